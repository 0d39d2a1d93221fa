import { awsSection, apiKeysSection, cognitoSection, internalKeysSection, loadConfig, policySection, redisSection, tablesSection, tiersSection } from '../../shared/config';
import { internalApiKeysLoader } from '../../shared/adapters/internal-api-keys';
import { rateLimitKey } from '../../shared/adapters/redis/rate-limiter';
import { wireAccess, wireApiKeys, wireAws, wireCatalogue, wireRateLimiter, wireStores } from '../../shared/adapters/wiring';
import { describeReason } from '../../shared/domain/access';
import { generateApiKey, hashApiKey, isWellFormedApiKey } from '../../shared/domain/api-keys';
import { secondsUntilEnd } from '../../shared/domain/periods';
import { describeApiUsage, usageExpiresAt } from '../../shared/domain/usage';
import { cognitoCaller } from '../../shared/http/auth';
import { ConflictError, ForbiddenError, NotFoundError, RateLimitedError } from '../../shared/http/errors';
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
const access = wireAccess(wireCatalogue(config.tiers), config.policy, { apiKeys: config.apiKeys });

/** The access decision for a user now, from a strongly consistent read of the row. */
async function accessOf(userId: string, now: Date) {
  return access.decide(await stores.entitlements.get(userId, { consistent: true }), now);
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
      const decision = await accessOf(userId, now);
      if (!decision.apiKeys) throw new ForbiddenError(`API keys need a plan with API access: ${describeReason(decision.reason)}`);
      const key = generateApiKey();
      const createdAt = now.toISOString();
      const outcome = await keys.rotate(userId, { keyHash: key.keyHash, prefix: key.prefix, createdAt });
      if (outcome === 'gone') throw new NotFoundError('No account for this user');
      if (outcome === 'contended') throw new ConflictError('Another API key rotation for this account is in progress; retry');
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
      const decision = await accessOf(stored.userId, now);
      const monthlyLimit = decision.monthlyApiCalls;
      const rate = decision.rateLimits.apiCalls;

      let taken: RateDecision = { allowed: true, remaining: 0 };
      // Without API access the monthly limit is 0 and the call is refused below; no rate to spend.
      if (rate) {
        try {
          taken = await limiter.take(rateLimitKey('api-calls', stored.userId), rate.limit, rate.windowMs);
        } catch (err) {
          if (!(err instanceof RateLimiterUnavailableError)) throw err;
          // Fails open: the per-second limit protects capacity, the period's count
          // (DynamoDB, below) protects billing and still holds without Redis.
          logger.warn('per-second API rate limit skipped: Redis unavailable');
        }
      }
      if (!taken.allowed) throw new RateLimitedError('Too many calls for this API key; retry later', taken.retryAfterMs / 1000);

      const period = decision.period;
      const counted = await usage.count(stored.userId, 'api-calls', period.id, monthlyLimit, usageExpiresAt(period));
      // The account is being deleted: its key is as good as gone.
      if (counted.userGone) return jsonResponse(200, { valid: false });
      const summary = describeApiUsage(counted.used, monthlyLimit, period);
      if (!counted.counted) {
        throw new RateLimitedError('API call limit of this period reached for this plan', secondsUntilEnd(period, now), { usage: summary });
      }
      return jsonResponse(200, { valid: true, userId: stored.userId, tier: decision.tier, usage: summary });
    }
    default:
      throw new NotFoundError('No route for this method and path');
  }
});
