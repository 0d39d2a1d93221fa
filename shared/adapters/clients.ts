import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { AwsConfig } from '../config';
import { classifyErrorsOf } from './aws-errors';
import { awsClientSettings } from './aws-settings';

/**
 * The DynamoDB (raw and document) and Secrets Manager clients, which every
 * function that reads a table builds: once per process (module load of the
 * handler), then passed into adapters. Endpoint overrides exist only for the
 * local stack. The settings, and why each client has its own file, are in
 * aws-settings.ts.
 */
export { awsClientSettings };

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
