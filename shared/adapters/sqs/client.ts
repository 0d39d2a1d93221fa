import { SQSClient } from '@aws-sdk/client-sqs';
import type { AwsConfig } from '../../config';
import { awsClientSettings } from '../aws-settings';
import { classifyErrorsOf } from '../aws-errors';

/** SQS for the deletion worker's queue; `endpoint` points it at the local stack's in-process queue. */
export function createSqsClient(aws: AwsConfig, endpoint?: string): SQSClient {
  return classifyErrorsOf(new SQSClient({ ...awsClientSettings(aws), ...(endpoint ? { endpoint } : {}) }), 'sqs');
}
