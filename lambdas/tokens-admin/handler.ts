import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { awsSection, internalKeysSection, loadConfig, policySection, redisSection, tablesSection, tiersSection } from '../../shared/config';
import { internalApiKeysLoader } from '../../shared/adapters/internal-api-keys';
import { wireAccess, wireAws, wireCache, wireCatalogue, wireTokens } from '../../shared/adapters/wiring';
import { TIER_NAMES, findTier, publicTier } from '../../shared/domain/tiers';
import type { EntitlementRecord } from '../../shared/domain/entitlement';
import { describeStatus } from '../../shared/domain/tokens';
import { ConflictError, DependencyUnavailableError, NotFoundError, ValidationError } from '../../shared/http/errors';
import { httpHandler, routeKey } from '../../shared/http/handler';
import { parseJsonBody, parsePathParameters } from '../../shared/http/request';
import { jsonResponse } from '../../shared/http/response';
import { addBody, tierBody, userPath } from '../../shared/http/schemas';
import { withTokenContention } from '../../shared/http/tokens';
import { logger } from '../../shared/observability/logger';
import { CacheInvalidationError, cacheKeys } from '../../shared/ports/cache';

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
const internalKeys = internalApiKeysLoader(config.internalKeys, aws.readSecret);

const unknownUser = () => new NotFoundError('Unknown user');

/**
 * GET /me/entitlements serves the row from the cache: after a tier or balance
 * change the cached copy goes. If it cannot, the change is written but a stale
 * answer could be served until the TTL ends: 503, and the (idempotent)
 * request is safe to repeat.
 */
async function forgetCachedEntitlement(userId: string): Promise<void> {
  try {
    await cache.invalidate([cacheKeys.entitlement(userId)]);
  } catch (err) {
    if (err instanceof CacheInvalidationError) throw new DependencyUnavailableError('written, but the entitlement cache could not be invalidated');
    throw err;
  }
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
  const result = await withTokenContention(() => store.addPurchasedTokens({ userId, tokens: amount, reason, idempotencyKey, kind: 'add' }));
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
  await forgetCachedEntitlement(userId);
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
