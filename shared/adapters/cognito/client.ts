import { CognitoIdentityProviderClient } from '@aws-sdk/client-cognito-identity-provider';
import type { AwsConfig } from '../../config';
import { awsClientSettings } from '../aws-settings';
import { classifyErrorsOf } from '../aws-errors';

/** Cognito's user pool API (email changes, deletion, the identity sweep); `endpoint` points it at the local emulator. */
export function createCognitoClient(aws: AwsConfig, endpoint?: string): CognitoIdentityProviderClient {
  return classifyErrorsOf(new CognitoIdentityProviderClient({ ...awsClientSettings(aws), ...(endpoint ? { endpoint } : {}) }), 'cognito');
}
