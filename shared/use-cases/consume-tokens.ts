import { countMetric } from '../observability/metrics';
import { cacheKeys, type ReadThroughCache } from '../ports/cache';
import type { ConsumeTokensRequest, ConsumeTokensResult, TokenStore } from '../ports/tokens';

export interface ConsumeTokensDeps {
  tokens: Pick<TokenStore, 'consume'>;
  cache: Pick<ReadThroughCache, 'invalidateBestEffort'>;
}

/**
 * POST /v1/users/{userId}/tokens/consume and POST /me/tokens/consume. Primary course:
 * 1. charge the amount in one atomic write (allowance first, then purchased
 *    tokens; exactly once per idempotency key; allowances from the access decision);
 * 2. drop the cached entitlement row (it carries the balances), best effort:
 *    never slow or fail a consume for it (a replay has nothing new to drop);
 * 3. answer the store's outcome (insufficient, conflict and unknown user change nothing).
 */
export async function consumeTokens(deps: ConsumeTokensDeps, request: ConsumeTokensRequest): Promise<ConsumeTokensResult> {
  const result = await deps.tokens.consume(request);
  if (result.outcome === 'consumed' && !result.replayed) {
    countMetric('TokensConsumed', result.consumed);
    await deps.cache.invalidateBestEffort([cacheKeys.entitlement(request.userId)]);
  }
  if (result.outcome === 'insufficient') countMetric('InsufficientTokens');
  return result;
}
