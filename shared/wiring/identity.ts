import { cognitoEndpointSection, loadConfig } from '../config';
import { createCognitoClient } from '../adapters/cognito/client';
import { CognitoEmailIdentity } from '../adapters/cognito/email-identity';
import { CognitoIdentityDirectory } from '../adapters/cognito/identity';
import { awsConfig } from './aws-config';
import { cognitoConfig } from './cognito';
import { perProcess } from './process';
/** Users of the pool, for the deletion saga and the identity sweep. */
export const identity = perProcess(() => {
  const config = cognitoConfig();
  return new CognitoIdentityDirectory(createCognitoClient(awsConfig(), config.COGNITO_ENDPOINT), config.COGNITO_USER_POOL_ID);
});

/**
 * Cognito as the truth of verified addresses. The pool id is a function:
 * the sign-up trigger learns it from each event (its own pool's id cannot be
 * given to it without a CloudFormation cycle), the routes from COGNITO_USER_POOL_ID.
 */
export function emailIdentity(userPoolId: () => string = () => cognitoConfig().COGNITO_USER_POOL_ID): CognitoEmailIdentity {
  const endpoint = loadConfig({ cognito: cognitoEndpointSection }).cognito.COGNITO_ENDPOINT;
  return new CognitoEmailIdentity(createCognitoClient(awsConfig(), endpoint), userPoolId);
}
