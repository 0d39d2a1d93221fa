import type { AccessDecider, AccessReason } from '../domain/access';
import { generateApiKey, hashApiKey, isWellFormedApiKey } from '../domain/api-keys';
import type { PlanName } from '../domain/catalogue-model';
import { secondsUntilEnd } from '../domain/periods';
import { describeApiUsage, usageExpiresAt, type ApiUsage } from '../domain/usage';
import { logger } from '../observability/logger';
import type { ApiKeyStore, UsageStore } from '../ports/api-keys';
import type { EntitlementStore } from '../ports/entitlements';
import { RateLimiterUnavailableError, rateLimitKey, type RateDecision, type RateLimiter } from '../ports/rate-limiter';

export interface ApiKeysDeps {
  keys: ApiKeyStore;
  usage: Pick<UsageStore, 'count'>;
  entitlements: Pick<EntitlementStore, 'get'>;
  limiter: RateLimiter;
  decide: AccessDecider;
  now: () => Date;
}

/** The access decision for a user now, from a strongly consistent read of the row. */
async function accessOf(deps: Pick<ApiKeysDeps, 'entitlements' | 'decide'>, userId: string, now: Date) {
  return deps.decide(await deps.entitlements.get(userId, { consistent: true }), now);
}

export type RotateApiKeyResult =
  | { outcome: 'rotated'; apiKey: string; prefix: string; createdAt: string }
  | { outcome: 'no-api-access'; reason: AccessReason }
  | { outcome: 'gone' }
  | { outcome: 'contended' };

/**
 * POST /me/api-keys. Primary course:
 * 1. the access decision must include API keys;
 * 2. generate a key; store only its hash, replacing the old key in the same transaction;
 * 3. answer the key once (it cannot be read again).
 */
export async function rotateApiKey(deps: ApiKeysDeps, userId: string): Promise<RotateApiKeyResult> {
  const now = deps.now();
  const decision = await accessOf(deps, userId, now);
  if (!decision.apiKeys) return { outcome: 'no-api-access', reason: decision.reason };
  const key = generateApiKey();
  const createdAt = now.toISOString();
  const outcome = await deps.keys.rotate(userId, { keyHash: key.keyHash, prefix: key.prefix, createdAt });
  if (outcome !== 'rotated') return { outcome };
  return { outcome: 'rotated', apiKey: key.apiKey, prefix: key.prefix, createdAt };
}

export type VerifyApiKeyResult =
  | { outcome: 'invalid' }
  | { outcome: 'valid'; userId: string; tier: PlanName; usage: ApiUsage }
  /** The per-second rate: retry after `retryAfterSeconds`. */
  | { outcome: 'rate-limited'; retryAfterSeconds: number }
  /** The period's API calls are used up until the period ends. */
  | { outcome: 'period-limit'; retryAfterSeconds: number; usage: ApiUsage };

/**
 * POST /v1/api-keys/verify. Primary course:
 * 1. find the key by its hash (unknown, rotated, deleted and malformed keys
 *    are all the same `invalid`: the caller learns nothing about why);
 * 2. decide the owner's access now;
 * 3. take one from the per-second rate (fails open without Redis: the rate
 *    protects capacity, the period's count protects billing);
 * 4. count the call against the period's limit in DynamoDB (an account being deleted: invalid).
 */
export async function verifyApiKey(deps: ApiKeysDeps, apiKey: string): Promise<VerifyApiKeyResult> {
  if (!isWellFormedApiKey(apiKey)) return { outcome: 'invalid' };
  const stored = await deps.keys.findByHash(hashApiKey(apiKey));
  if (!stored) return { outcome: 'invalid' };
  const now = deps.now();
  const decision = await accessOf(deps, stored.userId, now);
  const monthlyLimit = decision.monthlyApiCalls;
  const rate = decision.rateLimits.apiCalls;

  let taken: RateDecision = { allowed: true, remaining: 0 };
  // Without API access the monthly limit is 0 and the call is refused below; no rate to spend.
  if (rate) {
    try {
      taken = await deps.limiter.take(rateLimitKey('api-calls', stored.userId), rate.limit, rate.windowMs);
    } catch (err) {
      if (!(err instanceof RateLimiterUnavailableError)) throw err;
      logger.warn('per-second API rate limit skipped: Redis unavailable');
    }
  }
  if (!taken.allowed) return { outcome: 'rate-limited', retryAfterSeconds: taken.retryAfterMs / 1000 };

  const period = decision.period;
  const counted = await deps.usage.count(stored.userId, 'api-calls', period.id, monthlyLimit, usageExpiresAt(period));
  // The account is being deleted: its key is as good as gone.
  if (counted.userGone) return { outcome: 'invalid' };
  const usage = describeApiUsage(counted.used, monthlyLimit, period);
  if (!counted.counted) return { outcome: 'period-limit', retryAfterSeconds: secondsUntilEnd(period, now), usage };
  return { outcome: 'valid', userId: stored.userId, tier: decision.tier, usage };
}
