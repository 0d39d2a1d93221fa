import { awsSection, cognitoSection, internalKeysSection, loadConfig, policySection, redisSection, tablesSection, tiersSection } from '../../shared/config';
import { internalApiKeysLoader } from '../../shared/adapters/internal-api-keys';
import { wireAccess, wireAws, wireCache, wireCatalogue, wireTokens } from '../../shared/adapters/wiring';
import { cacheKeys } from '../../shared/ports/cache';
import { cognitoCaller } from '../../shared/http/auth';
import { ConflictError, NotFoundError, insufficientTokens } from '../../shared/http/errors';
import { httpHandler, routeKey } from '../../shared/http/handler';
import { parseJsonBody, parsePathParameters } from '../../shared/http/request';
import { jsonResponse } from '../../shared/http/response';
import { consumeBody, userPath } from '../../shared/http/schemas';
import type { ConsumeTokensResult } from '../../shared/ports/tokens';

const config = loadConfig({
  aws: awsSection,
  tables: tablesSection,
  redis: redisSection,
  internalKeys: internalKeysSection,
  cognito: cognitoSection,
  tiers: tiersSection,
  policy: policySection,
});
const aws = wireAws(config.aws);
const catalogue = wireCatalogue(config.tiers);
// Allowances come from the one access decision (status, overrides, grace, billing period).
const store = wireTokens(aws, config.tables, catalogue, wireAccess(catalogue, config.policy).policy);
const internalKeys = internalApiKeysLoader(config.internalKeys, aws.readSecret);
const cache = wireCache(aws, config.redis);

/**
 * POST /v1/users/{userId}/tokens/consume (x-api-key) and POST /me/tokens/consume
 * (Cognito: the caller's own tokens, the user id only from the token).
 */
export const handler = httpHandler(async (event) => {
  switch (routeKey(event)) {
    case 'POST /v1/users/{userId}/tokens/consume': {
      (await internalKeys()).assert(event);
      const { userId } = parsePathParameters(event, userPath);
      const body = parseJsonBody(event, consumeBody);
      const result = await store.consume({ userId, ...body });
      if (result.outcome === 'unknown-user') throw new NotFoundError('Unknown user');
      return answer(userId, result);
    }
    case 'POST /me/tokens/consume': {
      const { userId } = cognitoCaller(event, config.cognito.COGNITO_CLIENT_IDS);
      const body = parseJsonBody(event, consumeBody);
      const result = await store.consume({ userId, ...body });
      // Signed up but never entitled: a free user without tokens.
      if (result.outcome === 'unknown-user') throw insufficientTokens(0);
      return answer(userId, result);
    }
    default:
      throw new NotFoundError('No route for this method and path');
  }
});

async function answer(userId: string, result: Exclude<ConsumeTokensResult, { outcome: 'unknown-user' }>) {
  switch (result.outcome) {
    case 'consumed':
      // GET /me/entitlements caches the row with its balances: drop it, but never slow or fail a consume for it.
      if (!result.replayed) await cache.invalidateBestEffort([cacheKeys.entitlement(userId)]);
      return jsonResponse(200, { remaining: result.remaining, consumed: result.consumed }, result.replayed ? { 'Idempotent-Replayed': 'true' } : {});
    case 'insufficient':
      throw insufficientTokens(result.remaining);
    case 'conflict':
      throw new ConflictError('idempotencyKey was already used with a different amount');
  }
}
