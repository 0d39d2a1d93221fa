import { AdminDeleteUserCommand, UserNotFoundException, type CognitoIdentityProviderClient } from '@aws-sdk/client-cognito-identity-provider';
import type { IdentityDirectory } from '../../ports/account-deletion';

export class CognitoIdentityDirectory implements IdentityDirectory {
  constructor(
    private readonly client: CognitoIdentityProviderClient,
    private readonly userPoolId: string,
  ) {}

  async deleteUser(username: string): Promise<void> {
    try {
      await this.client.send(new AdminDeleteUserCommand({ UserPoolId: this.userPoolId, Username: username }));
    } catch (err) {
      if (err instanceof UserNotFoundException || (err as { name?: string }).name === 'UserNotFoundException') return;
      throw err;
    }
  }
}
