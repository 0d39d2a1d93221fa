import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { awsSection, internalKeysSection, loadConfig, policySection, redisSection, tablesSection, tiersSection } from '../../shared/config';
import { internalApiKeysLoader } from '../../shared/adapters/internal-api-keys';
import { wireAccess, wireAws, wireCache, wireCatalogue, wireStores, wireTokens } from '../../shared/adapters/wiring';
import { TIER_NAMES, findTier, publicTier } from '../../shared/domain/tiers';
import type { EntitlementRecord } from '../../shared/domain/entitlement';
import { describeStatus } from '../../shared/domain/token-views';
import { ConflictError, NotFoundError, ValidationError } from '../../shared/http/errors';
import { httpHandler, routeKey } from '../../shared/http/handler';
import { parseJsonBody, parsePathParameters } from '../../shared/http/request';
import { jsonResponse } from '../../shared/http/response';
import { addBody, tierBody, userPath } from '../../shared/http/schemas';
import { logger } from '../../shared/observability/logger';
import { cacheKeys } from '../../shared/ports/cache';

const config = loadConfig({
  aws: awsSection,
  tables: tablesSection,
  redis: redisSection,
  internalKeys: internalKeysSection,
  tiers: tiersSection,
  policy: policySection,
});
const aws = wireAws(config.aws);
const catalogue = wireCatalogue(config.tiers);
const tiersBody = { tiers: catalogue.map(publicTier) };
const access = wireAccess(catalogue, config.policy);
const store = wireTokens(aws, config.tables, catalogue, access.policy);
const cache = wireCache(aws, config.redis);
const { users } = wireStores(aws, config.tables);
const internalKeys = internalApiKeysLoader(config.internalKeys, aws.readSecret);

const unknownUser = () => new NotFoundError('Unknown user');

/**
 * GET /me/entitlements serves the row from the cache: after a tier or balance
 * change the cached copy goes; a tier change also changes `premium`, so the
 * premium check's answer for the user's email goes too. If it cannot, the
 * change is written but a stale answer could be served until the TTL ends:
 * CacheInvalidationError (503 by the error policy), and the (idempotent)
 * request is safe to repeat.
 */
async function forgetCachedEntitlement(userId: string, options: { premium?: boolean } = {}): Promise<void> {
  const keys = [cacheKeys.entitlement(userId)];
  if (options.premium) {
    const profile = await users.get(userId, { consistent: true });
    if (profile) keys.push(cacheKeys.premium(profile.email));
  }
  await cache.invalidate(keys);
}

async function status(userId: string): Promise<APIGatewayProxyResult> {
  const record = await store.getEntitlement(userId);
  if (!record) throw unknownUser();
  return jsonResponse(200, statusOf(record));
}

/** The status answer: the row and the access decision made from it now. */
function statusOf(record: EntitlementRecord) {
  return describeStatus(record, access.decide(record, new Date()));
}

async function addTokens(userId: string, event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> {
  const { amount, reason, idempotencyKey } = parseJsonBody(event, addBody);
  const result = await store.addPurchasedTokens({ userId, tokens: amount, reason, idempotencyKey, kind: 'add' });
  switch (result.outcome) {
    case 'added':
      // A replay invalidates too: it may be the retry of a request whose invalidation failed.
      await forgetCachedEntitlement(userId);
      return jsonResponse(200, { remaining: result.remaining }, result.applied ? {} : { 'Idempotent-Replayed': 'true' });
    case 'conflict':
      throw new ConflictError('idempotencyKey was already used with a different amount or reason');
    case 'unknown-user':
      throw unknownUser();
  }
}

async function setTier(userId: string, event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> {
  const body = parseJsonBody(event, tierBody);
  const tier = findTier(catalogue, body.tier);
  if (!tier) throw new ValidationError(`tier: unknown tier; one of ${TIER_NAMES.join(', ')}`);
  const sticky = body.sticky ?? false;
  const record = await store.setTier({ userId, tier: tier.name, sticky });
  if (!record) throw unknownUser();
  logger.info('tier override', { userId, tier: tier.name, sticky });
  await forgetCachedEntitlement(userId, { premium: true });
  return jsonResponse(200, statusOf(record));
}

const USER_ROUTES: Record<string, (userId: string, event: APIGatewayProxyEvent) => Promise<APIGatewayProxyResult>> = {
  'GET /v1/users/{userId}/status': status,
  'POST /v1/users/{userId}/tokens/add': addTokens,
  'PUT /v1/users/{userId}/tier': setTier,
};

/**
 * GET /v1/tiers (public) and, for the app's backends (x-api-key), a user's
 * status, token grants and tier overrides. The key is checked before anything
 * else is read. A user is someone with an entitlement row; others are 404.
 */
export const handler = httpHandler(async (event) => {
  const route = routeKey(event);
  if (route === 'GET /v1/tiers') return jsonResponse(200, tiersBody, { 'Cache-Control': 'public, max-age=60' });
  const serve = USER_ROUTES[route];
  if (!serve) throw new NotFoundError('No route for this method and path');
  (await internalKeys()).assert(event);
  const { userId } = parsePathParameters(event, userPath);
  return serve(userId, event);
});
