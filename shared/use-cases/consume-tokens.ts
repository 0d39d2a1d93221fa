import type { Catalogue } from '../domain/catalogue';
import { countMetric } from '../observability/metrics';
import { cacheKeys, type ReadThroughCache } from '../ports/cache';
import type { ConsumeTokensRequest, ConsumeTokensResult, TokenStore } from '../ports/tokens';
import { FeatureNotMeteredError, UnknownFeatureError } from './errors';

export interface ConsumeTokensDeps {
  tokens: Pick<TokenStore, 'consume'>;
  cache: Pick<ReadThroughCache, 'invalidateBestEffort'>;
  catalogue: Pick<Catalogue, 'features'>;
}

/**
 * POST /v1/users/{userId}/tokens/consume and POST /me/tokens/consume. Primary course:
 * 1. a `feature` must be a metered feature of the catalogue (unknown: 404, boolean: 400; nothing read);
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
    if (kind === undefined) throw new UnknownFeatureError(request.feature);
    if (kind !== 'metered') throw new FeatureNotMeteredError(request.feature);
  }
  const result = await deps.tokens.consume(request);
  if (result.outcome === 'consumed' && !result.replayed) {
    countMetric(request.feature === undefined ? 'TokensConsumed' : 'MeteredFeatureUsed', result.consumed);
    await deps.cache.invalidateBestEffort([cacheKeys.entitlement(request.userId)]);
  }
  if (result.outcome === 'insufficient') countMetric(request.feature === undefined ? 'InsufficientTokens' : 'MeteredFeatureLimitReached');
  return result;
}
