import {
  AdminConfirmSignUpCommand,
  AdminGetUserCommand,
  SignUpCommand,
  UsernameExistsException,
  type CognitoIdentityProviderClient,
} from '@aws-sdk/client-cognito-identity-provider';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DynamoEntitlementStore } from '../../shared/adapters/dynamodb/entitlements-store';
import { DynamoUserStore } from '../../shared/adapters/dynamodb/users-store';
import { createReadThroughCache } from '../../shared/adapters/redis/cache';
import { createRedisClient } from '../../shared/adapters/redis/client';
import { accessPolicyOf, decideAccess, type AccessDecider } from '../../shared/domain/access';
import { newEntitlement, normaliseEmail } from '../../shared/domain/entitlement';
import type { Catalogue } from '../../shared/domain/catalogue';
import { setPremiumOverride } from '../../shared/use-cases/premium-override';
import { localCognitoClient } from './cognito';
import { localDynamoClient } from './dynamodb';

/** The local stack's demo user: signs in with this password and is premium (admin override). */
export const DEMO_USER = { email: 'demo@example.com', password: 'Demo-Premium-42!' } as const;

export interface SeededUser {
  email: string;
  password: string;
  userId: string;
  premium: boolean;
}

async function signUpOrFind(client: CognitoIdentityProviderClient, cognito: { userPoolId: string; clientId: string }): Promise<string> {
  try {
    const out = await client.send(
      new SignUpCommand({
        ClientId: cognito.clientId,
        Username: DEMO_USER.email,
        Password: DEMO_USER.password,
        UserAttributes: [{ Name: 'email', Value: DEMO_USER.email }],
      }),
    );
    if (!out.UserSub) throw new Error('cognito-local returned no user id');
    // Confirming runs the post-confirmation trigger, as for any user.
    await client.send(new AdminConfirmSignUpCommand({ UserPoolId: cognito.userPoolId, Username: DEMO_USER.email }));
    return out.UserSub;
  } catch (err) {
    if (!(err instanceof UsernameExistsException)) throw err;
    const user = await client.send(new AdminGetUserCommand({ UserPoolId: cognito.userPoolId, Username: DEMO_USER.email }));
    const sub = user.UserAttributes?.find((a) => a.Name === 'sub')?.Value;
    if (!sub) throw new Error('the demo user has no sub');
    return sub;
  }
}

/**
 * Seeds the demo user, idempotently: the Cognito user (signed up and
 * confirmed, so the post-confirmation trigger runs), its profile and
 * entitlement rows (written here too when the trigger did not), and a premium
 * override set through the same use case `npm run admin -- set-premium` uses,
 * which also invalidates its cache keys.
 */
export async function seedDemoUser(options: {
  cognito: { endpoint: string; userPoolId: string; clientId: string };
  dynamodbEndpoint: string;
  tables: { users: string; entitlements: string; emailOwners: string };
  redisUrl?: string;
  catalogue: Catalogue;
}): Promise<SeededUser> {
  const cognitoClient = localCognitoClient(options.cognito.endpoint);
  const raw = localDynamoClient(options.dynamodbEndpoint);
  const doc = DynamoDBDocumentClient.from(raw, { marshallOptions: { removeUndefinedValues: true } });
  const redis = options.redisUrl
    ? createRedisClient({ REDIS_URL: options.redisUrl, REDIS_DISABLED: false, REDIS_CONNECT_TIMEOUT_MS: 1000, REDIS_COMMAND_TIMEOUT_MS: 1000 })
    : undefined;
  try {
    const userId = await signUpOrFind(cognitoClient, options.cognito);
    const users = new DynamoUserStore(doc, options.tables.users, options.tables.emailOwners);
    const entitlements = new DynamoEntitlementStore(doc, options.tables);
    const now = new Date();
    await users.createIfAbsent({ userId, email: normaliseEmail(DEMO_USER.email), createdAt: now.toISOString() });
    await entitlements.createIfAbsent(newEntitlement(userId, now));
    const cache = createReadThroughCache(redis, { CACHE_TTL_SECONDS: 300, CACHE_BREAKER_FAILURES: 3, CACHE_BREAKER_COOLDOWN_MS: 5000 });
    const policy = accessPolicyOf(options.catalogue);
    const decide: AccessDecider = (state, at) => decideAccess(state, options.catalogue, policy, at);
    const result = await setPremiumOverride({ users, entitlements, cache, decide, now: () => new Date() }, DEMO_USER.email, true);
    if (result.outcome !== 'written') throw new Error(`could not set the demo user's premium override (${result.outcome})`);
    return { email: DEMO_USER.email, password: DEMO_USER.password, userId, premium: result.premium };
  } finally {
    cognitoClient.destroy();
    raw.destroy();
    await redis?.quit().catch(() => redis.disconnect());
  }
}
