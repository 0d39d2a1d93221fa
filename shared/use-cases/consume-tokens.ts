import type { Catalogue } from '../domain/catalogue-model';
import { countMetric } from '../observability/metrics';
import { cacheKeys, type ReadThroughCache } from '../ports/cache';
import type { ConsumeTokensRequest, ConsumeTokensResult, TokenStore } from '../ports/tokens';
import { FeatureNotMeteredError, UnknownFeatureError } from './errors';

export interface ConsumeTokensDeps {
  tokens: Pick<TokenStore, 'consume' | 'earlierConsume'>;
  cache: Pick<ReadThroughCache, 'invalidateBestEffort'>;
  catalogue: Pick<Catalogue, 'features'>;
}

/**
 * POST /v1/users/{userId}/tokens/consume and POST /me/tokens/consume. Primary course:
 * 1. a `feature` must be a metered feature of the catalogue (unknown: 404, boolean: 400), unless the
 *    key was already used: a retry of a consume that was charged before the feature was removed
 *    or made boolean gets its first answer (another request under the key: a conflict);
 * 2. charge the amount in one atomic write (tokens: allowance first, then purchased
 *    tokens; a feature: its monthly allowance; exactly once per idempotency key;
 *    allowances from the access decision);
 * 3. drop the cached entitlement row (it carries the balances), best effort:
 *    never slow or fail a consume for it (a replay has nothing new to drop);
 * 4. answer the store's outcome (insufficient, conflict and unknown user change nothing).
 */
export async function consumeTokens(deps: ConsumeTokensDeps, request: ConsumeTokensRequest): Promise<ConsumeTokensResult> {
  if (request.feature !== undefined) {
    const kind = deps.catalogue.features[request.feature];
    if (kind !== 'metered') {
      // Only on a refusal: the usual consume pays no extra read.
      const earlier = await deps.tokens.earlierConsume(request);
      if (earlier) return earlier;
      throw kind === undefined ? new UnknownFeatureError(request.feature) : new FeatureNotMeteredError(request.feature);
    }
  }
  const result = await deps.tokens.consume(request);
  if (result.outcome === 'consumed' && !result.replayed) {
    countMetric(request.feature === undefined ? 'TokensConsumed' : 'MeteredFeatureUsed', result.consumed);
    await deps.cache.invalidateBestEffort([cacheKeys.entitlement(request.userId)]);
  }
  if (result.outcome === 'insufficient') countMetric(request.feature === undefined ? 'InsufficientTokens' : 'MeteredFeatureLimitReached');
  return result;
}
