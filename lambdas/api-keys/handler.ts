import { access } from '../../shared/wiring/access';
import { rateLimiter } from '../../shared/wiring/rate-limiter';
import { cognitoClientIds } from '../../shared/wiring/cognito';
import { internalKeys } from '../../shared/wiring/internal-keys';
import { apiKeyStores } from '../../shared/wiring/api-keys';
import { stores } from '../../shared/wiring/stores';
import { describeReason } from '../../shared/domain/access';
import type { InternalApiKeys } from '../../shared/http/auth';
import { ConflictError, ForbiddenError, NotFoundError, RateLimitedError } from '../../shared/http/errors';
import { asCaller, byRoute, httpHandler, withInternalKey, type HttpHandler } from '../../shared/http/handler';
import { parseJsonBody } from '../../shared/http/request';
import { verifyApiKeyBody } from '../../shared/http/request-schemas';
import { jsonResponse } from '../../shared/http/response';
import { rotateApiKey, verifyApiKey, type ApiKeysDeps } from '../../shared/use-cases/api-keys';

export interface ApiKeysHandlerDeps {
  apiKeys: ApiKeysDeps;
  internalKeys: () => Promise<InternalApiKeys>;
  cognitoClientIds: readonly string[];
}

/**
 * POST /me/api-keys: rotates the caller's key (the old one is deleted in the
 * same transaction). POST /v1/api-keys/verify (x-api-key): checks an end-user
 * key for the app's backends and counts the call.
 */
export function createApiKeysHandler(deps: ApiKeysHandlerDeps): HttpHandler {
  return httpHandler(
    byRoute({
      'POST /me/api-keys': asCaller(deps.cognitoClientIds, async ({ userId }) => {
        const result = await rotateApiKey(deps.apiKeys, userId);
        if (result.outcome === 'no-api-access') throw new ForbiddenError(`API keys need a plan with API access: ${describeReason(result.reason)}`);
        if (result.outcome === 'gone') throw new NotFoundError('No account for this user');
        if (result.outcome === 'contended') throw new ConflictError('Another API key rotation for this account is in progress; retry');
        return jsonResponse(201, { apiKey: result.apiKey, prefix: result.prefix, createdAt: result.createdAt });
      }),
      'POST /v1/api-keys/verify': withInternalKey(deps.internalKeys, async (event) => {
        const result = await verifyApiKey(deps.apiKeys, parseJsonBody(event, verifyApiKeyBody).apiKey);
        // A wrong key is an answer, not an error: the same 200 whatever the reason.
        if (result.outcome === 'invalid') return jsonResponse(200, { valid: false });
        if (result.outcome === 'rate-limited') throw new RateLimitedError('Too many calls for this API key; retry later', result.retryAfterSeconds);
        if (result.outcome === 'period-limit') throw new RateLimitedError('API call limit of this period reached for this plan', result.retryAfterSeconds, { usage: result.usage });
        return jsonResponse(200, { valid: true, userId: result.userId, tier: result.tier, usage: result.usage });
      }),
    }),
  );
}

const { keys, usage } = apiKeyStores();
export const handler = createApiKeysHandler({
  apiKeys: { keys, usage, entitlements: stores().entitlements, limiter: rateLimiter(), decide: access().decide, now: () => new Date() },
  internalKeys: internalKeys(),
  cognitoClientIds: cognitoClientIds(),
});
