import { catalogue } from '../../shared/wiring/access';
import { internalKeys } from '../../shared/wiring/internal-keys';
import { cache } from '../../shared/wiring/cache';
import { cognitoClientIds } from '../../shared/wiring/cognito';
import { tokenStore } from '../../shared/wiring/tokens';
import type { InternalApiKeys } from '../../shared/http/auth';
import { ConflictError, featureLimitReached, insufficientTokens, NotFoundError } from '../../shared/http/errors';
import { asCaller, byRoute, httpHandler, withInternalKey, type HttpHandler } from '../../shared/http/handler';
import { parseJsonBody, parsePathParameters } from '../../shared/http/request';
import { jsonResponse } from '../../shared/http/response';
import { consumeBody, userPath } from '../../shared/http/request-schemas';
import type { ConsumeTokensResult } from '../../shared/ports/tokens';
import { consumeTokens, type ConsumeTokensDeps } from '../../shared/use-cases/consume-tokens';

export interface TokenConsumeHandlerDeps {
  consume: ConsumeTokensDeps;
  internalKeys: () => Promise<InternalApiKeys>;
  cognitoClientIds: readonly string[];
}

function answer(result: Exclude<ConsumeTokensResult, { outcome: 'unknown-user' }>, feature: string | undefined) {
  if (result.outcome === 'insufficient') throw feature === undefined ? insufficientTokens(result.remaining) : featureLimitReached(feature, result.remaining);
  if (result.outcome === 'conflict') throw new ConflictError('idempotencyKey was already used with a different request');
  return jsonResponse(200, { remaining: result.remaining, consumed: result.consumed }, result.replayed ? { 'Idempotent-Replayed': 'true' } : {});
}

/**
 * POST /v1/users/{userId}/tokens/consume (x-api-key) and POST /me/tokens/consume
 * (Cognito: the caller's own tokens, the user id only from the token).
 */
export function createTokenConsumeHandler(deps: TokenConsumeHandlerDeps): HttpHandler {
  return httpHandler(
    byRoute({
      'POST /v1/users/{userId}/tokens/consume': withInternalKey(deps.internalKeys, async (event) => {
        const { userId } = parsePathParameters(event, userPath);
        const body = parseJsonBody(event, consumeBody);
        const result = await consumeTokens(deps.consume, { userId, ...body });
        if (result.outcome === 'unknown-user') throw new NotFoundError('Unknown user');
        return answer(result, body.feature);
      }),
      'POST /me/tokens/consume': asCaller(deps.cognitoClientIds, async ({ userId }, event) => {
        const body = parseJsonBody(event, consumeBody);
        const result = await consumeTokens(deps.consume, { userId, ...body });
        // Signed up but never entitled: a free user without tokens (or uses).
        if (result.outcome === 'unknown-user') throw body.feature === undefined ? insufficientTokens(0) : featureLimitReached(body.feature, 0);
        return answer(result, body.feature);
      }),
    }),
  );
}

export const handler = createTokenConsumeHandler({
  consume: { tokens: tokenStore(), cache: cache(), catalogue: catalogue() },
  internalKeys: internalKeys(),
  cognitoClientIds: cognitoClientIds(),
});
