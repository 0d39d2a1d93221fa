import { access, catalogue } from '../../shared/wiring/access';
import { cache } from '../../shared/wiring/cache';
import { internalKeys } from '../../shared/wiring/internal-keys';
import { stores } from '../../shared/wiring/stores';
import { tokenStore } from '../../shared/wiring/tokens';
import { planNames, publicCatalogue } from '../../shared/domain/catalogue-model';
import type { InternalApiKeys } from '../../shared/http/auth';
import { ConflictError, NotFoundError, ValidationError } from '../../shared/http/errors';
import { byRoute, httpHandler, withInternalKey, type HttpHandler, type HttpUseCase } from '../../shared/http/handler';
import { parseJsonBody, parsePathParameters } from '../../shared/http/request';
import { jsonResponse } from '../../shared/http/response';
import { addBody, featureCheckBody, tierBody, userPath } from '../../shared/http/request-schemas';
import { checkFeature, grantTokens, setTier, userStatus, type TokenAdminDeps } from '../../shared/use-cases/token-admin';

export interface TokensAdminHandlerDeps {
  admin: TokenAdminDeps;
  internalKeys: () => Promise<InternalApiKeys>;
}

/**
 * GET /v1/tiers (public: the catalogue's public view) and, for the app's
 * backends (x-api-key), a user's status, feature checks, token grants and
 * tier overrides. The key is checked before anything
 * else is read. A user is someone with an entitlement row; others are 404.
 */
export function createTokensAdminHandler(deps: TokensAdminHandlerDeps): HttpHandler {
  const tiersBody = publicCatalogue(deps.admin.catalogue);
  const forUser = (serve: (userId: string, event: Parameters<HttpUseCase>[0]) => ReturnType<HttpUseCase>): HttpUseCase =>
    withInternalKey(deps.internalKeys, async (event) => serve(parsePathParameters(event, userPath).userId, event));
  return httpHandler(
    byRoute({
      'GET /v1/tiers': async () => jsonResponse(200, tiersBody, { 'Cache-Control': 'public, max-age=60' }),
      'GET /v1/users/{userId}/status': forUser(async (userId) => {
        const status = await userStatus(deps.admin, userId);
        if (!status) throw new NotFoundError('Unknown user');
        return jsonResponse(200, status);
      }),
      'POST /v1/users/{userId}/features/check': forUser(async (userId, event) => {
        const result = await checkFeature(deps.admin, userId, parseJsonBody(event, featureCheckBody).feature);
        if (!result) throw new NotFoundError('Unknown user');
        return jsonResponse(200, result);
      }),
      'POST /v1/users/{userId}/tokens/add': forUser(async (userId, event) => {
        const result = await grantTokens(deps.admin, { userId, ...parseJsonBody(event, addBody) });
        if (result.outcome === 'conflict') throw new ConflictError('idempotencyKey was already used with a different amount or reason');
        if (result.outcome === 'unknown-user') throw new NotFoundError('Unknown user');
        return jsonResponse(200, { remaining: result.remaining }, result.applied ? {} : { 'Idempotent-Replayed': 'true' });
      }),
      'PUT /v1/users/{userId}/tier': forUser(async (userId, event) => {
        const body = parseJsonBody(event, tierBody);
        const result = await setTier(deps.admin, { userId, tier: body.tier, sticky: body.sticky ?? false });
        if (result.outcome === 'unknown-tier') throw new ValidationError(`tier: unknown plan "${body.tier}"; one of ${planNames(deps.admin.catalogue)}`);
        if (result.outcome === 'unknown-user') throw new NotFoundError('Unknown user');
        return jsonResponse(200, result.status);
      }),
    }),
  );
}

export const handler = createTokensAdminHandler({
  admin: { tokens: tokenStore(), users: stores().users, cache: cache(), catalogue: catalogue(), decide: access().decide, now: () => new Date() },
  internalKeys: internalKeys(),
});
