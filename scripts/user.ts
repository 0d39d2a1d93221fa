/**
 * `npm run user -- <command>`: sign users up and in against the local stack's
 * cognito-local, the way the app would, and print their tokens.
 *
 *   signup <email> [password]   sign up + confirm (runs the post-confirmation trigger), then sign in
 *   login  <email> [password]   sign in and print the access token
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { AdminConfirmSignUpCommand, InitiateAuthCommand, SignUpCommand } from '@aws-sdk/client-cognito-identity-provider';
import { localCognitoClient } from '../infra/local/cognito';
import type { StackState } from '../infra/local/stack';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const DEFAULT_PASSWORD = 'Local-Passw0rd!';

function stack(): StackState {
  const file = resolve(__dirname, '..', process.env.LOCAL_STACK_DIR ?? '.local', 'stack.json');
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as StackState;
  } catch {
    throw new Error(`No local stack found (${file}). Start it first: npm run local`);
  }
}

async function login(state: StackState, email: string, password: string): Promise<string> {
  const client = localCognitoClient(state.cognito.endpoint);
  try {
    const out = await client.send(
      new InitiateAuthCommand({ ClientId: state.cognito.clientId, AuthFlow: 'USER_PASSWORD_AUTH', AuthParameters: { USERNAME: email, PASSWORD: password } }),
    );
    const token = out.AuthenticationResult?.AccessToken;
    if (!token) throw new Error('cognito-local returned no access token');
    return token;
  } finally {
    client.destroy();
  }
}

async function main(): Promise<void> {
  const [command, email, password = DEFAULT_PASSWORD] = process.argv.slice(2);
  if (!command || !email || !['signup', 'login'].includes(command)) {
    process.stdout.write('usage: npm run user -- signup|login <email> [password]\n');
    process.exit(command ? 2 : 0);
  }
  const state = stack();
  if (command === 'signup') {
    const client = localCognitoClient(state.cognito.endpoint);
    try {
      const out = await client.send(
        new SignUpCommand({ ClientId: state.cognito.clientId, Username: email, Password: password, UserAttributes: [{ Name: 'email', Value: email }] }),
      );
      await client.send(new AdminConfirmSignUpCommand({ UserPoolId: state.cognito.userPoolId, Username: email }));
      process.stderr.write(`signed up ${email} (user id ${out.UserSub}); password ${password}\n`);
    } finally {
      client.destroy();
    }
  }
  const token = await login(state, email, password);
  process.stderr.write(`access token (valid 1 hour), e.g.\n  export TOKEN=$(npm run -s user -- login ${email}${password === DEFAULT_PASSWORD ? '' : ` '${password}'`})\n`);
  process.stdout.write(`${token}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).message}\n`);
  process.exit(1);
});
