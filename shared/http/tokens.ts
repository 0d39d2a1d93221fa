import { z } from 'zod';
import { IDEMPOTENCY_KEY_PATTERN, MAX_TOKEN_AMOUNT, isValidTokenAmount } from '../domain/tokens';
import { logger } from '../observability/logger';
import { TokenContentionError } from '../ports/tokens';
import { DependencyUnavailableError, PaymentRequiredError } from './errors';

/** Request schemas and error mapping of the token routes (token-consume and tokens-admin). */

const AMOUNT_RULE = `must be a whole number of tokens from 1 to ${MAX_TOKEN_AMOUNT}`;

/** The domain's rule (isValidTokenAmount), with the message naming it. */
export const tokenAmount = z.number({ error: AMOUNT_RULE }).refine(isValidTokenAmount, { error: AMOUNT_RULE });

export const idempotencyKey = z
  .string({ error: 'is required: 1-128 characters of A-Z a-z 0-9 _ . : -' })
  .regex(IDEMPOTENCY_KEY_PATTERN, { error: 'must be 1-128 characters of A-Z a-z 0-9 _ . : -' });

/** Path `{userId}` of the internal routes: a Cognito sub or a similar opaque id. */
export const userPath = z.object({
  userId: z.string({ error: 'is required' }).regex(/^[A-Za-z0-9._-]{1,128}$/, { error: 'must be 1-128 characters of A-Z a-z 0-9 . _ -' }),
});

export const consumeBody = z.object({ amount: tokenAmount, idempotencyKey });

export const addBody = z.object({
  amount: tokenAmount,
  reason: z.string({ error: 'is required: why the tokens are granted (kept in the ledger)' }).trim().min(1, { error: 'must not be empty' }).max(200, { error: 'must be at most 200 characters' }),
  idempotencyKey,
});

export const tierBody = z.object({
  tier: z.string({ error: 'is required: a tier name from GET /v1/tiers' }).min(1, { error: 'must not be empty' }).max(64),
  sticky: z.boolean({ error: 'must be true or false' }).optional(),
});

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
