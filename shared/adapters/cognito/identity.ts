import {
  AdminDeleteUserCommand,
  AdminGetUserCommand,
  UserNotFoundException,
  type CognitoIdentityProviderClient,
} from '@aws-sdk/client-cognito-identity-provider';
import type { IdentityDirectory } from '../../ports/account-deletion';

const isUserNotFound = (err: unknown) => err instanceof UserNotFoundException || (err as { name?: string }).name === 'UserNotFoundException';

export class CognitoIdentityDirectory implements IdentityDirectory {
  constructor(
    private readonly client: CognitoIdentityProviderClient,
    private readonly userPoolId: string,
  ) {}

  async deleteUser(username: string): Promise<void> {
    try {
      await this.client.send(new AdminDeleteUserCommand({ UserPoolId: this.userPoolId, Username: username }));
    } catch (err) {
      if (isUserNotFound(err)) return;
      throw err;
    }
  }

  /**
   * AdminGetUser accepts the sub as `Username` in a pool whose sign-in alias is
   * the email (user names are then generated ids): one call, in the UserRead
   * quota, instead of a ListUsers filter.
   */
  async userExists(sub: string): Promise<boolean> {
    try {
      await this.client.send(new AdminGetUserCommand({ UserPoolId: this.userPoolId, Username: sub }));
      return true;
    } catch (err) {
      if (isUserNotFound(err)) return false;
      throw err;
    }
  }
}
