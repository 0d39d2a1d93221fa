import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { CognitoIdentityProviderClient } from '@aws-sdk/client-cognito-identity-provider';
import { STSClient } from '@aws-sdk/client-sts';
import { SQSClient } from '@aws-sdk/client-sqs';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import type { AwsConfig } from '../config';
import { classifyErrorsOf } from './aws-errors';

/**
 * The one place AWS clients are built: once per process (module load of the
 * handler), then passed into adapters. Endpoint overrides exist only for the
 * local stack.
 *
 * Every client gets the same bounds (AWS_CONNECT_TIMEOUT_MS,
 * AWS_REQUEST_TIMEOUT_MS, AWS_MAX_ATTEMPTS), so a hung dependency (a paused
 * process accepts the TCP connection and never answers) fails the call within
 * a few seconds instead of holding the function until its own timeout, and the
 * error classifier turns the failure into a port-level DependencyUnavailable.
 */
export function awsClientSettings(aws: AwsConfig) {
  return {
    region: aws.AWS_REGION,
    maxAttempts: aws.AWS_MAX_ATTEMPTS,
    // The NodeHttpHandler's options, given as an object (the client builds the handler):
    // requestTimeout only warns unless throwOnRequestTimeout is set (@smithy/node-http-handler 4.x).
    requestHandler: {
      connectionTimeout: aws.AWS_CONNECT_TIMEOUT_MS,
      requestTimeout: aws.AWS_REQUEST_TIMEOUT_MS,
      throwOnRequestTimeout: true,
    },
  };
}

export function createDynamoClients(aws: AwsConfig): { raw: DynamoDBClient; doc: DynamoDBDocumentClient } {
  const raw = classifyErrorsOf(
    new DynamoDBClient({ ...awsClientSettings(aws), ...(aws.DYNAMODB_ENDPOINT ? { endpoint: aws.DYNAMODB_ENDPOINT } : {}) }),
    'dynamodb',
  );
  // The document client shares the raw client's middleware stack, classifier included.
  const doc = DynamoDBDocumentClient.from(raw, {
    marshallOptions: { removeUndefinedValues: true },
  });
  return { raw, doc };
}

export function createSecretsClient(aws: AwsConfig): SecretsManagerClient {
  return classifyErrorsOf(
    new SecretsManagerClient({ ...awsClientSettings(aws), ...(aws.SECRETS_MANAGER_ENDPOINT ? { endpoint: aws.SECRETS_MANAGER_ENDPOINT } : {}) }),
    'secrets-manager',
  );
}

export function createCognitoClient(aws: AwsConfig, endpoint?: string): CognitoIdentityProviderClient {
  return classifyErrorsOf(new CognitoIdentityProviderClient({ ...awsClientSettings(aws), ...(endpoint ? { endpoint } : {}) }), 'cognito');
}

/** STS for subscriber credentials; `endpoint` points it at the local emulator. Regional, never the global endpoint. */
export function createStsClient(aws: AwsConfig, endpoint?: string): STSClient {
  return classifyErrorsOf(new STSClient({ ...awsClientSettings(aws), ...(endpoint ? { endpoint } : {}) }), 'sts');
}

/** SQS for the deletion worker's queue; `endpoint` points it at the local stack's in-process queue. */
export function createSqsClient(aws: AwsConfig, endpoint?: string): SQSClient {
  return classifyErrorsOf(new SQSClient({ ...awsClientSettings(aws), ...(endpoint ? { endpoint } : {}) }), 'sqs');
}

/** EventBridge for entitlement.changed; `endpoint` points it at the local stack's in-process bus. */
export function createEventBridgeClient(aws: AwsConfig, endpoint?: string): EventBridgeClient {
  return classifyErrorsOf(new EventBridgeClient({ ...awsClientSettings(aws), ...(endpoint ? { endpoint } : {}) }), 'eventbridge');
}
