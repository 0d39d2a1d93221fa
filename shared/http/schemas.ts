import * as z from 'zod';
import { ACCESS_REASONS } from '../domain/access';
import { ENTITLEMENT_STATUSES, normaliseEmail } from '../domain/entitlement';
import { MAX_TOKEN_AMOUNT, isValidTokenAmount } from '../domain/token-balances';
import { IDEMPOTENCY_KEY_PATTERN } from '../domain/token-idempotency';

/**
 * The HTTP contract as zod schemas: every request body and path the handlers
 * validate, and every success and error body they answer. Handlers import
 * their request schemas from here; the OpenAPI document
 * (`shared/http/openapi.ts`) is generated from the same objects through the
 * route registry (`shared/http/route-schemas.ts`), so the two cannot differ.
 * `.meta()` only adds JSON Schema keywords for rules a refinement enforces
 * (zod cannot translate a refinement); it never changes what is accepted.
 */

// ---------------------------------------------------------------- requests

/**
 * An email as callers send it: trimmed and lower-cased first (the contract's
 * rule for every lookup and write), then validated; at most 254 characters,
 * the longest address SMTP can carry.
 */
export const emailField = z
  .string()
  .transform(normaliseEmail)
  .pipe(z.email().max(254))
  .meta({ format: 'email', maxLength: 254, description: 'Trimmed and lower-cased before it is validated' });

const AMOUNT_RULE = `must be a whole number of tokens from 1 to ${MAX_TOKEN_AMOUNT}`;

/** The domain's rule (isValidTokenAmount), with the message naming it. */
export const tokenAmount = z
  .number({ error: AMOUNT_RULE })
  .refine(isValidTokenAmount, { error: AMOUNT_RULE })
  .meta({ type: 'integer', minimum: 1, maximum: MAX_TOKEN_AMOUNT, description: 'Whole tokens' });

export const idempotencyKey = z
  .string({ error: 'is required: 1-128 characters of A-Z a-z 0-9 _ . : -' })
  .regex(IDEMPOTENCY_KEY_PATTERN, { error: 'must be 1-128 characters of A-Z a-z 0-9 _ . : -' })
  .meta({ description: 'Client-chosen; a retry with the same key and body answers the first result' });

/** Path `{userId}` of the internal routes: a Cognito sub or a similar opaque id. */
export const userPath = z.object({
  userId: z.string({ error: 'is required' }).regex(/^[A-Za-z0-9._-]{1,128}$/, { error: 'must be 1-128 characters of A-Z a-z 0-9 . _ -' }),
});

/** A feature key as the catalogue writes them (the catalogue decides which exist: unknown ones are 404). */
export const featureKey = z
  .string({ error: 'is required: a feature key of the catalogue (GET /v1/tiers)' })
  .regex(/^[a-z0-9][a-z0-9._:-]{0,63}$/, { error: 'must be a feature key of the catalogue: lower-case letters, digits and . _ : - (at most 64)' });

/** `feature`: spend that metered feature's monthly allowance instead of tokens. */
export const consumeBody = z.object({
  amount: tokenAmount,
  idempotencyKey,
  feature: featureKey.optional().meta({ description: "A metered feature: spend its monthly allowance instead of tokens (402 when over)" }),
});

/** POST /v1/users/{userId}/features/check. */
export const featureCheckBody = z.object({ feature: featureKey });

export const addBody = z.object({
  amount: tokenAmount,
  reason: z.string({ error: 'is required: why the tokens are granted (kept in the ledger)' }).trim().min(1, { error: 'must not be empty' }).max(200, { error: 'must be at most 200 characters' }),
  idempotencyKey,
});

export const tierBody = z.object({
  tier: z.string({ error: 'is required: a tier name from GET /v1/tiers' }).min(1, { error: 'must not be empty' }).max(64),
  sticky: z.boolean({ error: 'must be true or false' }).optional(),
});

/** `{email}`: trimmed and lower-cased before it is validated, looked up or echoed. */
export const premiumCheckBody = z.object({ email: emailField });

/** POST /me/email: the new address, normalised like every email. */
export const emailChangeBody = z.object({ email: emailField });

/** POST /me/email/verify: the code Cognito sent to the new address. */
export const emailVerifyBody = z.object({
  code: z
    .string({ error: 'is required: the code sent to the new address' })
    .trim()
    .regex(/^\S{1,64}$/, { error: 'must be 1-64 characters without spaces' }),
});

/** Longer than any key we issue, short enough that a huge string costs nothing to refuse. */
export const verifyApiKeyBody = z.object({ apiKey: z.string().max(256) });

/** Exactly one of `tier` (a subscription) or `topUp` (tokens, a multiple of the pack size). */
export const checkoutBody = z
  .strictObject({
    tier: z.string().trim().min(1).max(40).optional(),
    topUp: z.number().int().positive().max(1_000_000).optional(),
  })
  .refine((b) => (b.tier === undefined) !== (b.topUp === undefined), { message: 'send exactly one of tier or topUp' })
  .transform((b) => (b.tier !== undefined ? { tier: b.tier } : { topUp: b.topUp as number }))
  .meta({ description: 'Send exactly one of tier or topUp', minProperties: 1, maxProperties: 1 });

/**
 * The webhook's body as Stripe sends it. The handler does not parse it with
 * zod: the signature covers the raw bytes and Stripe's SDK verifies and parses
 * them; this only documents the envelope.
 */
export const stripeEventBody = z.looseObject({
  id: z.string(),
  type: z.string(),
  data: z.looseObject({ object: z.looseObject({}) }),
});

/**
 * Ko-fi's webhook form (application/x-www-form-urlencoded): one field, `data`,
 * the payment as JSON (shared/domain/kofi.ts validates it; its
 * `verification_token` is checked first, in constant time).
 */
export const kofiWebhookForm = z.object({
  data: z
    .string()
    .min(1)
    .describe(
      'The payment as JSON: verification_token, message_id, timestamp, type (Donation | Subscription | Commission | Shop Order), is_public, from_name, message, amount, url, email, currency, is_subscription_payment, is_first_subscription_payment, kofi_transaction_id, shop_items, tier_name, shipping',
    ),
});

// --------------------------------------------------------------- responses

/** `{error: {code, message, ...details}}`: every 4xx and 5xx the API returns. */
export const errorResponse = z.object({
  error: z.looseObject({
    code: z.string().meta({ description: 'Stable machine-readable code, e.g. validation_failed' }),
    message: z.string(),
  }),
});

const checkStatus = z.enum(['ok', 'down', 'disabled']);
export const healthResponse = z.object({
  status: z.enum(['ok', 'degraded', 'down']),
  checks: z.object({ dynamodb: checkStatus, redis: checkStatus }),
});
/** 503 from the health route: the report and the error body together. */
export const healthDownResponse = healthResponse.extend(errorResponse.shape);

/** A feature key of the catalogue (free-form: the operator's file defines them). */
export const featureSchema = z.string();
const nullableCount = z.number().int().nullable().meta({ description: 'null = unlimited' });

export const publicFeatureSchema = z.discriminatedUnion('kind', [
  z.object({ key: z.string(), kind: z.literal('boolean') }),
  z.object({ key: z.string(), kind: z.literal('metered'), monthlyLimit: nullableCount }),
]);

export const publicTierSchema = z.object({
  name: z.string(),
  displayName: z.string(),
  monthlyTokens: nullableCount,
  monthlyApiCalls: nullableCount,
  rateLimitPerSecond: z.number().int().nullable().meta({ description: "Verified API calls a second; null = the deployment's default" }),
  trialDays: z.number().int(),
  price: z.object({ amount: z.number().int(), currency: z.string(), interval: z.enum(['day', 'week', 'month', 'year']) }).nullable().meta({ description: "List price in the currency's smallest unit; null = not sold" }),
  features: z.array(publicFeatureSchema),
  stripePriceIds: z.array(z.string()),
  purchasable: z.boolean(),
});
export const publicTopUpSchema = z.object({
  name: z.string(),
  displayName: z.string(),
  tokens: z.number().int(),
  price: z.object({ amount: z.number().int(), currency: z.string() }),
  stripePriceIds: z.array(z.string()),
});
export const tiersResponse = z.object({
  tiers: z.array(publicTierSchema).meta({ description: 'Plans in rank order: a later plan is better' }),
  topUps: z.array(publicTopUpSchema),
});

export const featureCheckResponse = z.object({
  allowed: z.boolean(),
  remaining: nullableCount.optional().meta({ description: 'Metered features: uses left this period (null = unlimited)' }),
  limit: nullableCount.optional().meta({ description: "Metered features: the plan's monthly limit (null = unlimited)" }),
});

export const tokenSummarySchema = z.object({
  remaining: nullableCount,
  monthlyAllowance: nullableCount,
  purchased: z.number().int(),
  usedThisPeriod: z.number().int(),
  resetsAt: z.string(),
  periodAnchor: z.enum(['billing', 'calendar']).describe('billing: the Stripe subscription period; calendar: 00:00 UTC on the 1st'),
});

const accessReason = z.enum(ACCESS_REASONS).describe('Why the access is what it is (see the access rules in the README)');

const entitlementStatus = z.enum(ENTITLEMENT_STATUSES);

export const userStatusResponse = z.object({
  userId: z.string(),
  tier: z.string(),
  tierSticky: z.boolean(),
  status: entitlementStatus,
  accessReason,
  premium: z.boolean(),
  canMakeRequest: z.boolean(),
  tokens: tokenSummarySchema,
});

export const consumeResponse = z.object({ consumed: z.number().int(), remaining: nullableCount });
export const addResponse = z.object({ remaining: nullableCount });

export const emailChangeResponse = z.object({
  email: z.string().nullable().meta({ description: 'The verified address the account holds now (unchanged until the code is verified)' }),
  pendingEmail: z.string().nullable().meta({ description: 'The address waiting for its code; null when it already was the account\'s address' }),
});
export const emailVerifiedResponse = z.object({ email: z.string().meta({ description: 'The account\'s address from now on' }) });
export const premiumCheckResponse = z.object({ email: z.string(), premium: z.boolean(), source: z.enum(['cache', 'db']) });

export const apiUsageSchema = z.object({ used: z.number().int(), limit: nullableCount, resetsAt: z.string() });

export const entitlementsResponse = z.object({
  userId: z.string(),
  status: entitlementStatus,
  plan: z.string().nullable(),
  tier: z.string(),
  premium: z.boolean(),
  accessReason,
  graceEndsAt: z.string().optional().describe('While a past_due grace applies: when it ends'),
  kofiPaidThrough: z.string().optional().describe('While a Ko-fi membership decides the access: when its paid month (and grace) ends'),
  currentPeriodEnd: z.string().nullable(),
  trialEndsAt: z.string().nullable(),
  cancelAtPeriodEnd: z.boolean(),
  tokens: tokenSummarySchema,
  features: z.array(featureSchema),
  usage: apiUsageSchema,
});

export const redirectUrlResponse = z.object({ url: z.string() });
const deletionStep = z.enum(['marked', 'billing', 'data', 'cache', 'profile', 'identity', 'done']);
/** Where an account deletion stands: never an email or a Stripe id. */
export const deletionJobSchema = z.object({
  startedAt: z.string(),
  updatedAt: z.string(),
  finishedAt: z.string().optional(),
  completedSteps: z.array(deletionStep),
  nextStep: deletionStep.nullable(),
  purged: z.object({ ledgerEntries: z.number().int(), apiKeys: z.number().int() }),
  attempts: z.number().int(),
});
export const deleteAccountResponse = z.object({ deleted: z.literal(true), status: z.literal('deleted'), job: deletionJobSchema.nullable() });
export const deletionInProgressResponse = z.object({ deleted: z.literal(false), status: z.literal('in-progress'), job: deletionJobSchema.nullable() });
export const stripeWebhookResponse = z.object({ received: z.literal(true) });

export const kofiWebhookResponse = z.object({ received: z.literal(true) });

export const awsCredentialsResponse = z.object({
  accessKeyId: z.string(),
  secretAccessKey: z.string(),
  sessionToken: z.string(),
  expiration: z.string(),
  region: z.string(),
});

export const apiKeyCreatedResponse = z.object({ apiKey: z.string(), prefix: z.string(), createdAt: z.string() });

export const verifyApiKeyResponse = z.union([
  z.object({ valid: z.literal(true), userId: z.string(), tier: z.string(), usage: apiUsageSchema }),
  z.object({ valid: z.literal(false) }),
]);
