import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  CognitoIdentityProviderClient,
  CreateUserPoolClientCommand,
  CreateUserPoolCommand,
  ListUserPoolsCommand,
} from '@aws-sdk/client-cognito-identity-provider';
import { LOCAL_AWS } from './dynamodb';
import { startProcess, waitUntil, type OwnedProcess } from './processes';

/**
 * The attribute names of infra/stacks/stateful-stack.ts USER_WRITABLE_ATTRIBUTES
 * (test/infra/stack.test.ts checks the two agree).
 */
export const USER_WRITABLE_ATTRIBUTE_NAMES = [
  'name',
  'given_name',
  'family_name',
  'middle_name',
  'nickname',
  'locale',
  'zoneinfo',
  'picture',
  'profile',
  'website',
  'birthdate',
  'gender',
  'address',
];

export interface LocalCognito {
  endpoint: string;
  userPoolId: string;
  clientId: string;
  issuer: string;
  jwksUri: string;
  process: OwnedProcess;
}

/**
 * The attribute verification code cognito-local last sent a user (real Cognito
 * emails it to the new address): read from its data file under the stack's
 * state directory, the local stack's mailbox. `username` is the pool's user
 * name, the sub in this email-sign-in pool.
 */
export function attributeVerificationCodeOf(stateDir: string, userPoolId: string, username: string): string {
  const db = JSON.parse(readFileSync(join(stateDir, 'cognito', '.cognito', 'db', `${userPoolId}.json`), 'utf8')) as {
    Users?: Record<string, { AttributeVerificationCode?: string }>;
  };
  const code = db.Users?.[username]?.AttributeVerificationCode;
  if (!code) throw new Error(`cognito-local holds no attribute verification code for ${username}`);
  return code;
}

export function localCognitoClient(endpoint: string): CognitoIdentityProviderClient {
  return new CognitoIdentityProviderClient({
    endpoint,
    region: LOCAL_AWS.region,
    credentials: { accessKeyId: LOCAL_AWS.accessKeyId, secretAccessKey: LOCAL_AWS.secretAccessKey },
  });
}

/**
 * Starts cognito-local with its data under `dir`, its triggers invoking our
 * handlers through the local Lambda-invoke endpoint, then creates the user
 * pool and app client the way the CDK stack does.
 */
export async function startCognitoLocal(options: {
  dir: string;
  port: number;
  lambdaEndpoint: string;
  triggers: Record<string, string>;
}): Promise<LocalCognito> {
  const configDir = join(options.dir, '.cognito');
  mkdirSync(configDir, { recursive: true });
  writeFileSync(
    join(configDir, 'config.json'),
    JSON.stringify(
      {
        LambdaClient: {
          endpoint: options.lambdaEndpoint,
          region: LOCAL_AWS.region,
          credentials: { accessKeyId: LOCAL_AWS.accessKeyId, secretAccessKey: LOCAL_AWS.secretAccessKey },
        },
        TriggerFunctions: options.triggers,
        UserPoolDefaults: { UsernameAttributes: ['email'] },
        TokenConfig: { IssuerDomain: `http://127.0.0.1:${options.port}` },
      },
      null,
      2,
    ),
  );
  // cognito-local with the Cognito behaviours it lacks (infra/local/cognito-server.ts), loaded through tsx.
  const proc = startProcess('cognito-local', process.execPath, ['--require', require.resolve('tsx/cjs'), join(__dirname, 'cognito-server.ts')], {
    cwd: options.dir,
    env: { ...process.env, PORT: String(options.port), HOST: '127.0.0.1', AWS_SDK_JS_SUPPRESS_MAINTENANCE_MODE_MESSAGE: '1' },
  });
  const endpoint = `http://127.0.0.1:${options.port}`;
  const client = localCognitoClient(endpoint);
  try {
    await waitUntil('cognito-local', async () => (await client.send(new ListUserPoolsCommand({ MaxResults: 1 })), true), 20_000, proc);
    const pool = await client.send(
      new CreateUserPoolCommand({
        PoolName: 'entitlements-local',
        UsernameAttributes: ['email'],
        AutoVerifiedAttributes: ['email'],
        // keepOriginal in the CDK stack: an address replaces the verified one only once it is verified.
        UserAttributeUpdateSettings: { AttributesRequireVerificationBeforeUpdate: ['email'] },
        Policies: {
          PasswordPolicy: { MinimumLength: 12, RequireLowercase: true, RequireUppercase: true, RequireNumbers: true, RequireSymbols: true },
        },
      }),
    );
    const userPoolId = pool.UserPool?.Id;
    if (!userPoolId) throw new Error('cognito-local did not return a user pool id');
    const appClient = await client.send(
      new CreateUserPoolClientCommand({
        UserPoolId: userPoolId,
        ClientName: 'entitlements-local-app',
        ExplicitAuthFlows: ['ALLOW_USER_PASSWORD_AUTH', 'ALLOW_REFRESH_TOKEN_AUTH'],
        // As the CDK app client: a user's token cannot write `email` (changes go through POST /me/email).
        WriteAttributes: USER_WRITABLE_ATTRIBUTE_NAMES,
      }),
    );
    const clientId = appClient.UserPoolClient?.ClientId;
    if (!clientId) throw new Error('cognito-local did not return an app client id');
    const issuer = `${endpoint}/${userPoolId}`;
    return { endpoint, userPoolId, clientId, issuer, jwksUri: `${issuer}/.well-known/jwks.json`, process: proc };
  } catch (err) {
    await proc.stop();
    throw err;
  } finally {
    client.destroy();
  }
}
