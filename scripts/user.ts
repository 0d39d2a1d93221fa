/**
 * `npm run user -- <command>`: sign users up and in against the local stack's
 * cognito-local, the way the app would, and print their tokens.
 *
 *   signup <email> [password]   sign up + confirm (runs the post-confirmation trigger), then sign in
 *   login  <email> [password]   sign in and print the access token
 *   email-code <email>          the code an email change (POST /me/email) sent to the new address
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { AdminConfirmSignUpCommand, AdminGetUserCommand, InitiateAuthCommand, SignUpCommand } from '@aws-sdk/client-cognito-identity-provider';
import { attributeVerificationCodeOf, localCognitoClient } from '../infra/local/cognito';
import type { StackState } from '../infra/local/stack';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const DEFAULT_PASSWORD = 'Local-Passw0rd!';

const stateDir = () => resolve(__dirname, '..', process.env.LOCAL_STACK_DIR ?? '.local');

function stack(): StackState {
  const file = resolve(stateDir(), 'stack.json');
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
  if (!command || !email || !['signup', 'login', 'email-code'].includes(command)) {
    process.stdout.write('usage: npm run user -- signup|login <email> [password] | email-code <email>\n');
    process.exit(command ? 2 : 0);
  }
  const state = stack();
  if (command === 'email-code') {
    // cognito-local keeps the code in its data file: the local stand-in for the email Cognito sends.
    const client = localCognitoClient(state.cognito.endpoint);
    try {
      const user = await client.send(new AdminGetUserCommand({ UserPoolId: state.cognito.userPoolId, Username: email }));
      process.stdout.write(`${attributeVerificationCodeOf(stateDir(), state.cognito.userPoolId, user.Username!)}\n`);
    } finally {
      client.destroy();
    }
    return;
  }
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
