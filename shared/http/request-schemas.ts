import * as z from 'zod';
import { normaliseEmail } from '../domain/entitlement';
import { MAX_TOKEN_AMOUNT, isValidTokenAmount } from '../domain/token-balances';
import { IDEMPOTENCY_KEY_PATTERN } from '../domain/token-idempotency';

/**
 * The request half of the HTTP contract (schemas.ts re-exports it with the
 * responses): handlers import their request schemas from here, so a function
 * builds at cold start the dozen request schemas, not the ~35 response
 * schemas only the OpenAPI document reads.
 */

// ---------------------------------------------------------------- requests

// Every schema below is built by a call annotated @__PURE__ (esbuild's
// marker): esbuild drops from a function's bundle the schemas it never uses,
// so a function builds at cold start only the schemas it needs
// (bench/cold-start.bench.ts, module rows); tsx and jest, which do not
// bundle, still build them all.
/**
 * An email as callers send it: trimmed and lower-cased first (the contract's
 * rule for every lookup and write), then validated; at most 254 characters,
 * the longest address SMTP can carry.
 */
export const emailField = /* @__PURE__ */ (() =>
  z
    .string()
    .transform(normaliseEmail)
    .pipe(z.email().max(254))
    .meta({ format: 'email', maxLength: 254, description: 'Trimmed and lower-cased before it is validated' }))();

const AMOUNT_RULE = `must be a whole number of tokens from 1 to ${MAX_TOKEN_AMOUNT}`;

/** The domain's rule (isValidTokenAmount), with the message naming it. */
export const tokenAmount = /* @__PURE__ */ (() =>
  z
    .number({ error: AMOUNT_RULE })
    .refine(isValidTokenAmount, { error: AMOUNT_RULE })
    .meta({ type: 'integer', minimum: 1, maximum: MAX_TOKEN_AMOUNT, description: 'Whole tokens' }))();

export const idempotencyKey = /* @__PURE__ */ (() =>
  z
    .string({ error: 'is required: 1-128 characters of A-Z a-z 0-9 _ . : -' })
    .regex(IDEMPOTENCY_KEY_PATTERN, { error: 'must be 1-128 characters of A-Z a-z 0-9 _ . : -' })
    .meta({ description: 'Client-chosen; a retry with the same key and body answers the first result' }))();

/** Path `{userId}` of the internal routes: a Cognito sub or a similar opaque id. */
export const userPath = /* @__PURE__ */ (() =>
  z.object({
    userId: z.string({ error: 'is required' }).regex(/^[A-Za-z0-9._-]{1,128}$/, { error: 'must be 1-128 characters of A-Z a-z 0-9 . _ -' }),
  }))();

/** A feature key as the catalogue writes them (the catalogue decides which exist: unknown ones are 404). */
export const featureKey = /* @__PURE__ */ (() =>
  z
    .string({ error: 'is required: a feature key of the catalogue (GET /v1/tiers)' })
    .regex(/^[a-z0-9][a-z0-9._:-]{0,63}$/, { error: 'must be a feature key of the catalogue: lower-case letters, digits and . _ : - (at most 64)' }))();

/** `feature`: spend that metered feature's monthly allowance instead of tokens. */
export const consumeBody = /* @__PURE__ */ (() =>
  z.object({
    amount: tokenAmount,
    idempotencyKey,
    feature: featureKey.optional().meta({ description: "A metered feature: spend its monthly allowance instead of tokens (402 when over)" }),
  }))();

/** POST /v1/users/{userId}/features/check. */
export const featureCheckBody = /* @__PURE__ */ (() => z.object({ feature: featureKey }))();

export const addBody = /* @__PURE__ */ (() =>
  z.object({
    amount: tokenAmount,
    reason: z.string({ error: 'is required: why the tokens are granted (kept in the ledger)' }).trim().min(1, { error: 'must not be empty' }).max(200, { error: 'must be at most 200 characters' }),
    idempotencyKey,
  }))();

export const tierBody = /* @__PURE__ */ (() =>
  z.object({
    tier: z.string({ error: 'is required: a tier name from GET /v1/tiers' }).min(1, { error: 'must not be empty' }).max(64),
    sticky: z.boolean({ error: 'must be true or false' }).optional(),
  }))();

/** `{email}`: trimmed and lower-cased before it is validated, looked up or echoed. */
export const premiumCheckBody = /* @__PURE__ */ (() => z.object({ email: emailField }))();

/** POST /me/email: the new address, normalised like every email. */
export const emailChangeBody = /* @__PURE__ */ (() => z.object({ email: emailField }))();

/** POST /me/email/verify: the code Cognito sent to the new address. */
export const emailVerifyBody = /* @__PURE__ */ (() =>
  z.object({
    code: z
      .string({ error: 'is required: the code sent to the new address' })
      .trim()
      .regex(/^\S{1,64}$/, { error: 'must be 1-64 characters without spaces' }),
  }))();

/** Longer than any key we issue, short enough that a huge string costs nothing to refuse. */
export const verifyApiKeyBody = /* @__PURE__ */ (() => z.object({ apiKey: z.string().max(256) }))();

/** Exactly one of `tier` (a subscription) or `topUp` (tokens, a multiple of the pack size). */
export const checkoutBody = /* @__PURE__ */ (() =>
  z
    .strictObject({
      tier: z.string().trim().min(1).max(40).optional(),
      topUp: z.number().int().positive().max(1_000_000).optional(),
    })
    .refine((b) => (b.tier === undefined) !== (b.topUp === undefined), { message: 'send exactly one of tier or topUp' })
    .transform((b) => (b.tier !== undefined ? { tier: b.tier } : { topUp: b.topUp as number }))
    .meta({ description: 'Send exactly one of tier or topUp', minProperties: 1, maxProperties: 1 }))();

/**
 * The webhook's body as Stripe sends it. The handler does not parse it with
 * zod: the signature covers the raw bytes and Stripe's SDK verifies and parses
 * them; this only documents the envelope.
 */
export const stripeEventBody = /* @__PURE__ */ (() =>
  z.looseObject({
    id: z.string(),
    type: z.string(),
    data: z.looseObject({ object: z.looseObject({}) }),
  }))();

/**
 * Ko-fi's webhook form (application/x-www-form-urlencoded): one field, `data`,
 * the payment as JSON (shared/domain/kofi.ts validates it; its
 * `verification_token` is checked first, in constant time).
 */
export const kofiWebhookForm = /* @__PURE__ */ (() =>
  z.object({
    data: z
      .string()
      .min(1)
      .describe(
        'The payment as JSON: verification_token, message_id, timestamp, type (Donation | Subscription | Commission | Shop Order), is_public, from_name, message, amount, url, email, currency, is_subscription_payment, is_first_subscription_payment, kofi_transaction_id, shop_items, tier_name, shipping',
      ),
  }))();
