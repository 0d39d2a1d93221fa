import { STSClient } from '@aws-sdk/client-sts';
import type { AwsConfig } from '../../config';
import { awsClientSettings } from '../aws-settings';
import { classifyErrorsOf } from '../aws-errors';

/** STS for subscriber credentials; `endpoint` points it at the local emulator. Regional, never the global endpoint. */
export function createStsClient(aws: AwsConfig, endpoint?: string): STSClient {
  return classifyErrorsOf(new STSClient({ ...awsClientSettings(aws), ...(endpoint ? { endpoint } : {}) }), 'sts');
}
