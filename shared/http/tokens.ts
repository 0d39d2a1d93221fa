import { PaymentRequiredError } from './errors';

/**
 * HTTP answers of the token routes (token-consume and tokens-admin); contention
 * is mapped by the error policy (TokenContentionError is a port Contention). Their
 * request schemas live in `./schemas` with the rest of the HTTP contract and
 * are re-exported here for existing importers.
 */
export { addBody, consumeBody, idempotencyKey, tierBody, tokenAmount, userPath } from './schemas';

/** 402 insufficient_tokens with the balance in the error body. */
export function insufficientTokens(remaining: number): PaymentRequiredError {
  return new PaymentRequiredError(`Not enough tokens: ${remaining} remaining`, { remaining });
}
