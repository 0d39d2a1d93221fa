import type { ApiKeysConfig, AwsConfig, CognitoConfig, CredentialsConfig, PolicyConfig, RedisConfig, TablesConfig, TiersConfig } from '../config';
import { cacheSection, loadConfig, tierSettings } from '../config';
import { DEFAULT_ACCESS_POLICY, decideAccess, type AccessDecider, type AccessPolicy } from '../domain/access';
import { buildTierCatalogue, type Tier } from '../domain/tiers';
import type { ReadThroughCache } from '../ports/cache';
import type { PurchasedTokenAdjustments, TopUpCredits } from '../ports/events';
import { createCognitoClient, createDynamoClients, createSecretsClient, createStsClient } from './clients';
import { CognitoIdentityDirectory } from './cognito/identity';
import { CognitoEmailIdentity } from './cognito/email-identity';
import { DynamoDeletionJobs, DynamoUserDataPurger } from './dynamodb/account-deletion';
import { DynamoEntitlementStore } from './dynamodb/entitlements-store';
import { DynamoProcessedEvents } from './dynamodb/processed-events';
import { DynamoTokenStore, tokenTables } from './dynamodb/token-store';
import { DynamoUserStore } from './dynamodb/users-store';
import { createReadThroughCache } from './redis/cache';
import { connectRedis } from './redis/client';
import { CircuitBreaker } from './redis/circuit-breaker';
import { RedisRateLimiter } from './redis/rate-limiter';
import { StsCredentialsVendor } from './sts/credentials-vendor';
import { DynamoApiKeyStore, DynamoUsageStore } from './dynamodb/api-key-store';
import { once, resolveSecret } from './secrets';
// Stripe's wiring is in ./stripe/wiring.ts: only the functions that call Stripe bundle its SDK.
import { logger } from '../observability/logger';

/**
 * The one place handlers get their adapters from. Everything is built once
 * per process (at module load of the handler that asks), secrets are read at
 * cold start and kept, and tests replace any piece by building adapters
 * themselves.
 */
export function wireAws(aws: AwsConfig) {
  const dynamo = createDynamoClients(aws);
  const secrets = createSecretsClient(aws);
  const readSecret = (arn: string) => resolveSecret({ arn, name: arn }, () => secrets);
  return { dynamo, readSecret };
}

export function wireStores(aws: ReturnType<typeof wireAws>, tables: TablesConfig) {
  const doc = aws.dynamo.doc;
  return {
    users: new DynamoUserStore(doc, tables.TABLE_USERS, tables.TABLE_EMAIL_OWNERS),
    entitlements: new DynamoEntitlementStore(doc, { entitlements: tables.TABLE_ENTITLEMENTS, users: tables.TABLE_USERS }),
    processedEvents: new DynamoProcessedEvents(doc, tables.TABLE_IDEMPOTENCY),
    deletionJobs: new DynamoDeletionJobs(doc, tables.TABLE_IDEMPOTENCY),
    purger: new DynamoUserDataPurger(doc, { ledger: tables.TABLE_LEDGER, apiKeys: tables.TABLE_API_KEYS }),
  };
}

export function wireCache(aws: ReturnType<typeof wireAws>, config: RedisConfig): ReadThroughCache {
  const redis = once(() => connectRedis(config, aws.readSecret));
  redis().catch((err: unknown) => logger.warn('redis connect failed at cold start', { reason: String(err) }));
  // TTL and breaker settings (CACHE_*), read at cold start like every section.
  return createReadThroughCache(redis, loadConfig({ cache: cacheSection }).cache);
}

export function wireIdentity(aws: AwsConfig, cognito: CognitoConfig) {
  return new CognitoIdentityDirectory(createCognitoClient(aws, cognito.COGNITO_ENDPOINT), cognito.COGNITO_USER_POOL_ID);
}

/** Cognito as the truth of verified addresses; the pool id is a function because triggers learn it from the event. */
export function wireEmailIdentity(aws: AwsConfig, endpoint: string | undefined, userPoolId: () => string) {
  return new CognitoEmailIdentity(createCognitoClient(aws, endpoint), userPoolId);
}

export function wireCatalogue(tiers: TiersConfig) {
  return buildTierCatalogue(tierSettings(tiers));
}

/**
 * The one access decision, bound to this process's catalogue and policy.
 * Rates come from the sections a function loads (defaults otherwise: a
 * function that does not serve that capability never reads them).
 */
export function wireAccess(
  catalogue: readonly Tier[],
  policy: PolicyConfig,
  rates: { apiKeys?: ApiKeysConfig; credentials?: Pick<CredentialsConfig, 'CREDENTIALS_RATE_LIMIT_PER_MINUTE'> } = {},
): { policy: AccessPolicy; decide: AccessDecider } {
  const defaults = DEFAULT_ACCESS_POLICY.rates;
  const accessPolicy: AccessPolicy = {
    pastDueGrace: policy.PAST_DUE_GRACE,
    pastDueGraceDays: policy.PAST_DUE_GRACE_DAYS,
    grantTier: policy.ADMIN_GRANT_TIER,
    rates: {
      apiCallsPerWindow: rates.apiKeys?.API_KEY_RATE_LIMIT ?? defaults.apiCallsPerWindow,
      apiCallWindowMs: rates.apiKeys?.API_KEY_RATE_WINDOW_MS ?? defaults.apiCallWindowMs,
      awsCredentialsPerMinute: rates.credentials?.CREDENTIALS_RATE_LIMIT_PER_MINUTE ?? defaults.awsCredentialsPerMinute,
    },
  };
  return { policy: accessPolicy, decide: (state, now) => decideAccess(state, catalogue, accessPolicy, now) };
}

/** The token store: balances, ledger and idempotency records, with allowances from the access decision. */
export function wireTokens(aws: ReturnType<typeof wireAws>, tables: TablesConfig, catalogue: readonly Tier[], policy: AccessPolicy): DynamoTokenStore {
  return new DynamoTokenStore(aws.dynamo.doc, { tables: tokenTables(tables), catalogue, policy });
}

/** Refunds and disputes of top-ups take purchased tokens back (and a won dispute returns them). */
export function wireTokenAdjustments(aws: ReturnType<typeof wireAws>, tables: TablesConfig, catalogue: readonly Tier[], policy: AccessPolicy): PurchasedTokenAdjustments {
  const tokens = wireTokens(aws, tables, catalogue, policy);
  return {
    adjust: async (input) => {
      const result = await tokens.adjustPurchasedTokens(input);
      return result.outcome === 'applied' || result.outcome === 'duplicate' ? { outcome: result.outcome, applied: result.applied, shortfall: result.shortfall } : result;
    },
    adjustmentOf: (userId, key) => tokens.adjustmentOf(userId, key),
  };
}

/** Stripe top-ups credit purchased tokens through the token store: one atomic write, once per checkout session. */
export function wireTopUps(aws: ReturnType<typeof wireAws>, tables: TablesConfig, catalogue: readonly Tier[], policy: AccessPolicy): TopUpCredits {
  const tokens = wireTokens(aws, tables, catalogue, policy);
  return {
    credit: async ({ userId, tokens: amount, idempotencyKey, reason }) => {
      const result = await tokens.addPurchasedTokens({ userId, tokens: amount, idempotencyKey, reason, kind: 'top-up' });
      if (result.outcome === 'unknown-user') return 'unknown-user';
      // Same key, other payload cannot happen for one checkout session: treat as already applied.
      if (result.outcome === 'conflict') return 'duplicate';
      return result.applied ? 'applied' : 'duplicate';
    },
  };
}


/**
 * The Redis-backed rate limiter, on its own client and breaker (a slow cache
 * read must not open the limiter's breaker, nor the reverse).
 */
export function wireRateLimiter(aws: ReturnType<typeof wireAws>, config: RedisConfig): RedisRateLimiter {
  const redis = once(() => connectRedis(config, aws.readSecret));
  redis().catch((err: unknown) => logger.warn('redis connect failed at cold start', { reason: String(err) }));
  const { cache } = loadConfig({ cache: cacheSection });
  const breaker = new CircuitBreaker({
    failureThreshold: cache.CACHE_BREAKER_FAILURES,
    cooldownMs: cache.CACHE_BREAKER_COOLDOWN_MS,
    onStateChange: (to, from) => logger.warn('rate limiter circuit breaker changed state', { from, to }),
  });
  return new RedisRateLimiter(redis, breaker);
}

export function wireCredentialsVendor(aws: AwsConfig, config: CredentialsConfig): StsCredentialsVendor {
  return new StsCredentialsVendor(createStsClient(aws, config.STS_ENDPOINT), config.CREDENTIALS_ROLE_ARN);
}

export function wireApiKeys(aws: ReturnType<typeof wireAws>, tables: TablesConfig) {
  return {
    keys: new DynamoApiKeyStore(aws.dynamo.doc, { apiKeys: tables.TABLE_API_KEYS, users: tables.TABLE_USERS }),
    usage: new DynamoUsageStore(aws.dynamo.doc, { ledger: tables.TABLE_LEDGER, users: tables.TABLE_USERS }),
  };
}
