import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import type { AwsConfig } from '../../config';
import { awsClientSettings } from '../aws-settings';
import { classifyErrorsOf } from '../aws-errors';

/** EventBridge for entitlement.changed; `endpoint` points it at the local stack's in-process bus. */
export function createEventBridgeClient(aws: AwsConfig, endpoint?: string): EventBridgeClient {
  return classifyErrorsOf(new EventBridgeClient({ ...awsClientSettings(aws), ...(endpoint ? { endpoint } : {}) }), 'eventbridge');
}
