import {
  AdminGetUserCommand,
  AdminUpdateUserAttributesCommand,
  VerifyUserAttributeCommand,
  type CognitoIdentityProviderClient,
} from '@aws-sdk/client-cognito-identity-provider';
import { normaliseEmail } from '../../domain/entitlement';
import type { EmailCodeOutcome, EmailIdentity } from '../../ports/email-identity';
import { EmailTakenError } from '../../ports/users';

const errorName = (err: unknown) => (err as { name?: string } | undefined)?.name;

/**
 * Cognito as the truth of who holds which verified address. Admin calls take
 * the `sub` as the user name: in a pool whose users sign in with their email
 * the user name is the sub, and Cognito also resolves a sub given as user name.
 */
export class CognitoEmailIdentity implements EmailIdentity {
  constructor(
    private readonly client: CognitoIdentityProviderClient,
    /** A function: the post-confirmation trigger learns its pool from the event, not from the environment. */
    private readonly userPoolId: () => string,
  ) {}

  async currentEmailOf(userId: string): Promise<string | null> {
    try {
      const out = await this.client.send(new AdminGetUserCommand({ UserPoolId: this.userPoolId(), Username: userId }));
      const email = out.UserAttributes?.find((a) => a.Name === 'email')?.Value;
      return email ? normaliseEmail(email) : null;
    } catch (err) {
      if (errorName(err) === 'UserNotFoundException') return null;
      throw err;
    }
  }

  async requestEmailChange(userId: string, email: string): Promise<void> {
    try {
      await this.client.send(
        new AdminUpdateUserAttributesCommand({ UserPoolId: this.userPoolId(), Username: userId, UserAttributes: [{ Name: 'email', Value: email }] }),
      );
    } catch (err) {
      // Another account of the pool signs in with this address.
      if (errorName(err) === 'AliasExistsException') throw new EmailTakenError(email, 'unknown');
      throw err;
    }
  }

  async confirmEmailChange(accessToken: string, code: string): Promise<EmailCodeOutcome> {
    try {
      await this.client.send(new VerifyUserAttributeCommand({ AccessToken: accessToken, AttributeName: 'email', Code: code }));
      return 'verified';
    } catch (err) {
      switch (errorName(err)) {
        case 'CodeMismatchException':
          return 'invalid-code';
        case 'ExpiredCodeException':
          return 'expired-code';
        case 'AliasExistsException':
          return 'taken';
        // The API Gateway authorizer checks the token's signature and expiry only; Cognito also knows revoked ones.
        case 'NotAuthorizedException':
          return 'token-refused';
        default:
          throw err;
      }
    }
  }
}
