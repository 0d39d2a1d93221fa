import { logger } from '../observability/logger';
import { TokenContentionError } from '../ports/tokens';
import { DependencyUnavailableError, PaymentRequiredError } from './errors';

/**
 * Error mapping of the token routes (token-consume and tokens-admin). Their
 * request schemas live in `./schemas` with the rest of the HTTP contract and
 * are re-exported here for existing importers.
 */
export { addBody, consumeBody, idempotencyKey, tierBody, tokenAmount, userPath } from './schemas';

/** 402 insufficient_tokens with the balance in the error body. */
export function insufficientTokens(remaining: number): PaymentRequiredError {
  return new PaymentRequiredError(`Not enough tokens: ${remaining} remaining`, { remaining });
}

/** Runs a token store call; a write that kept losing races is a 503 the caller may retry. */
export async function withTokenContention<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    if (!(err instanceof TokenContentionError)) throw err;
    logger.warn('token write gave up under contention', { attempts: err.attempts });
    const busy = new DependencyUnavailableError('token balance is busy');
    busy.headers['Retry-After'] = '1';
    throw busy;
  }
}
