import { awsSection, apiKeysSection, cognitoSection, internalKeysSection, loadConfig, policySection, redisSection, tablesSection, tiersSection } from '../../shared/config';
import { internalApiKeysLoader } from '../../shared/adapters/internal-api-keys';
import { rateLimitKey } from '../../shared/adapters/redis/rate-limiter';
import { wireApiKeys, wireAws, wireCatalogue, wireRateLimiter, wireStores } from '../../shared/adapters/wiring';
import { generateApiKey, hashApiKey, isWellFormedApiKey } from '../../shared/domain/api-keys';
import { entitlementView } from '../../shared/domain/entitlement-view';
import { tokenPeriodOf } from '../../shared/domain/tokens';
import { apiCallLimitFor, describeApiUsage, secondsUntilReset, usageExpiresAt } from '../../shared/domain/usage';
import { cognitoCaller } from '../../shared/http/auth';
import { ForbiddenError, NotFoundError, RateLimitedError } from '../../shared/http/errors';
import { httpHandler, routeKey } from '../../shared/http/handler';
import { parseJsonBody } from '../../shared/http/request';
import { verifyApiKeyBody } from '../../shared/http/schemas';
import { jsonResponse } from '../../shared/http/response';
import { logger } from '../../shared/observability/logger';
import type { RateDecision } from '../../shared/ports/rate-limiter';
import { RateLimiterUnavailableError } from '../../shared/ports/rate-limiter';

const config = loadConfig({
  aws: awsSection,
  tables: tablesSection,
  redis: redisSection,
  cognito: cognitoSection,
  internalKeys: internalKeysSection,
  tiers: tiersSection,
  policy: policySection,
  apiKeys: apiKeysSection,
});
const aws = wireAws(config.aws);
const stores = wireStores(aws, config.tables);
const { keys, usage } = wireApiKeys(aws, config.tables);
const limiter = wireRateLimiter(aws, config.redis);
const internalKeys = internalApiKeysLoader(config.internalKeys, aws.readSecret);
const catalogue = wireCatalogue(config.tiers);
const policy = { pastDueGrace: config.policy.PAST_DUE_GRACE };

async function effectiveTier(userId: string, now: Date) {
  const record = await stores.entitlements.get(userId, { consistent: true });
  const view = entitlementView(userId, record, catalogue, policy, now);
  return { tier: view.tier, hasApiAccess: view.features.includes('api-access'), monthlyLimit: apiCallLimitFor(view, catalogue) };
}

/**
 * POST /me/api-keys: rotates the caller's key (the old one is deleted in the
 * same transaction). POST /v1/api-keys/verify (x-api-key): checks an end-user
 * key for the app's backends and counts the call.
 */
export const handler = httpHandler(async (event) => {
  switch (routeKey(event)) {
    case 'POST /me/api-keys': {
      const { userId } = cognitoCaller(event, config.cognito.COGNITO_CLIENT_IDS);
      const now = new Date();
      const { hasApiAccess } = await effectiveTier(userId, now);
      if (!hasApiAccess) throw new ForbiddenError('API keys need a plan with API access');
      const key = generateApiKey();
      const createdAt = now.toISOString();
      const outcome = await keys.rotate(userId, { keyHash: key.keyHash, prefix: key.prefix, createdAt });
      if (outcome === 'gone') throw new NotFoundError('No account for this user');
      return jsonResponse(201, { apiKey: key.apiKey, prefix: key.prefix, createdAt });
    }
    case 'POST /v1/api-keys/verify': {
      (await internalKeys()).assert(event);
      const { apiKey } = parseJsonBody(event, verifyApiKeyBody);
      // Unknown, rotated, deleted and malformed keys all answer the same 200 {valid:false}:
      // the caller learns nothing about why, and a wrong key is an answer, not an error.
      if (!isWellFormedApiKey(apiKey)) return jsonResponse(200, { valid: false });
      const stored = await keys.findByHash(hashApiKey(apiKey));
      if (!stored) return jsonResponse(200, { valid: false });
      const now = new Date();
      const { tier, monthlyLimit } = await effectiveTier(stored.userId, now);

      let decision: RateDecision;
      try {
        decision = await limiter.take(rateLimitKey('api-calls', stored.userId), config.apiKeys.API_KEY_RATE_LIMIT, config.apiKeys.API_KEY_RATE_WINDOW_MS);
      } catch (err) {
        if (!(err instanceof RateLimiterUnavailableError)) throw err;
        // Fails open: the per-second limit protects capacity, the monthly count
        // (DynamoDB, below) protects billing and still holds without Redis.
        logger.warn('per-second API rate limit skipped: Redis unavailable');
        decision = { allowed: true, remaining: 0 };
      }
      if (!decision.allowed) throw new RateLimitedError('Too many calls for this API key; retry later', decision.retryAfterMs / 1000);

      const period = tokenPeriodOf(now);
      const counted = await usage.count(stored.userId, 'api-calls', period, monthlyLimit, usageExpiresAt(now));
      // The account is being deleted: its key is as good as gone.
      if (counted.userGone) return jsonResponse(200, { valid: false });
      const summary = describeApiUsage(counted.used, monthlyLimit, now);
      if (!counted.counted) {
        throw new RateLimitedError('Monthly API call limit reached for this plan', secondsUntilReset(now), { usage: summary });
      }
      return jsonResponse(200, { valid: true, userId: stored.userId, tier, usage: summary });
    }
    default:
      throw new NotFoundError('No route for this method and path');
  }
});
