import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { CognitoIdentityProviderClient } from '@aws-sdk/client-cognito-identity-provider';
import { STSClient } from '@aws-sdk/client-sts';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { AwsConfig } from '../config';

/**
 * The one place AWS clients are built: once per process (module load of the
 * handler), then passed into adapters. Endpoint overrides exist only for the
 * local stack.
 */
export function createDynamoClients(aws: AwsConfig): { raw: DynamoDBClient; doc: DynamoDBDocumentClient } {
  const raw = new DynamoDBClient({
    region: aws.AWS_REGION,
    ...(aws.DYNAMODB_ENDPOINT ? { endpoint: aws.DYNAMODB_ENDPOINT } : {}),
    // Short, bounded retries: callers of a Lambda behind API Gateway have a 29 s budget.
    maxAttempts: 3,
  });
  const doc = DynamoDBDocumentClient.from(raw, {
    marshallOptions: { removeUndefinedValues: true },
  });
  return { raw, doc };
}

export function createSecretsClient(aws: AwsConfig): SecretsManagerClient {
  return new SecretsManagerClient({ region: aws.AWS_REGION });
}

export function createCognitoClient(aws: AwsConfig, endpoint?: string): CognitoIdentityProviderClient {
  return new CognitoIdentityProviderClient({ region: aws.AWS_REGION, ...(endpoint ? { endpoint } : {}), maxAttempts: 3 });
}

/** STS for subscriber credentials; `endpoint` points it at the local emulator. Regional, never the global endpoint. */
export function createStsClient(aws: AwsConfig, endpoint?: string): STSClient {
  return new STSClient({ region: aws.AWS_REGION, ...(endpoint ? { endpoint } : {}), maxAttempts: 2 });
}

/** SQS for the deletion worker's queue; `endpoint` points it at the local stack's in-process queue. */
export function createSqsClient(aws: AwsConfig, endpoint?: string): SQSClient {
  return new SQSClient({ region: aws.AWS_REGION, ...(endpoint ? { endpoint } : {}), maxAttempts: 3 });
}
