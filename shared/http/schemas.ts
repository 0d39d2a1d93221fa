import * as z from 'zod';
import { ACCESS_REASONS } from '../domain/access';
import { ENTITLEMENT_STATUSES } from '../domain/entitlement';

/**
 * The HTTP contract as zod schemas: every request body and path the handlers
 * validate (request-schemas.ts, re-exported here), and every success and
 * error body they answer. Handlers import their request schemas from
 * request-schemas.ts; the OpenAPI document
 * (`shared/http/openapi.ts`) is generated from the same objects through the
 * route registry (`shared/http/route-schemas.ts`), so the two cannot differ.
 * `.meta()` only adds JSON Schema keywords for rules a refinement enforces
 * (zod cannot translate a refinement); it never changes what is accepted.
 */

export * from './request-schemas';

// --------------------------------------------------------------- responses

// Module-level schemas are built by @__PURE__ calls so bundles drop the unused ones (note in shared/config/index.ts).
/** `{error: {code, message, ...details}}`: every 4xx and 5xx the API returns. */
export const errorResponse = /* @__PURE__ */ (() =>
  z.object({
    error: z.looseObject({
      code: z.string().meta({ description: 'Stable machine-readable code, e.g. validation_failed' }),
      message: z.string(),
    }),
  }))();

const checkStatus = /* @__PURE__ */ (() => z.enum(['ok', 'down', 'disabled']))();
export const healthResponse = /* @__PURE__ */ (() =>
  z.object({
    status: z.enum(['ok', 'degraded', 'down']),
    checks: z.object({ dynamodb: checkStatus, redis: checkStatus }),
  }))();
/** 503 from the health route: the report and the error body together. */
export const healthDownResponse = /* @__PURE__ */ (() => healthResponse.extend(errorResponse.shape))();

/** A feature key of the catalogue (free-form: the operator's file defines them). */
export const featureSchema = /* @__PURE__ */ (() => z.string())();
const nullableCount = /* @__PURE__ */ (() => z.number().int().nullable().meta({ description: 'null = unlimited' }))();

export const publicFeatureSchema = /* @__PURE__ */ (() =>
  z.discriminatedUnion('kind', [
    z.object({ key: z.string(), kind: z.literal('boolean') }),
    z.object({ key: z.string(), kind: z.literal('metered'), monthlyLimit: nullableCount }),
  ]))();

export const publicTierSchema = /* @__PURE__ */ (() =>
  z.object({
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
  }))();
export const publicTopUpSchema = /* @__PURE__ */ (() =>
  z.object({
    name: z.string(),
    displayName: z.string(),
    tokens: z.number().int(),
    price: z.object({ amount: z.number().int(), currency: z.string() }),
    stripePriceIds: z.array(z.string()),
  }))();
export const tiersResponse = /* @__PURE__ */ (() =>
  z.object({
    tiers: z.array(publicTierSchema).meta({ description: 'Plans in rank order: a later plan is better' }),
    topUps: z.array(publicTopUpSchema),
  }))();

export const featureCheckResponse = /* @__PURE__ */ (() =>
  z.object({
    allowed: z.boolean(),
    remaining: nullableCount.optional().meta({ description: 'Metered features: uses left this period (null = unlimited)' }),
    limit: nullableCount.optional().meta({ description: "Metered features: the plan's monthly limit (null = unlimited)" }),
  }))();

export const tokenSummarySchema = /* @__PURE__ */ (() =>
  z.object({
    remaining: nullableCount,
    monthlyAllowance: nullableCount,
    purchased: z.number().int(),
    usedThisPeriod: z.number().int(),
    resetsAt: z.string(),
    periodAnchor: z.enum(['billing', 'calendar']).describe('billing: the Stripe subscription period; calendar: 00:00 UTC on the 1st'),
  }))();

const accessReason = /* @__PURE__ */ (() => z.enum(ACCESS_REASONS).describe('Why the access is what it is (see the access rules in the README)'))();

const entitlementStatus = /* @__PURE__ */ (() => z.enum(ENTITLEMENT_STATUSES))();

export const userStatusResponse = /* @__PURE__ */ (() =>
  z.object({
    userId: z.string(),
    tier: z.string(),
    tierSticky: z.boolean(),
    status: entitlementStatus,
    accessReason,
    premium: z.boolean(),
    canMakeRequest: z.boolean(),
    tokens: tokenSummarySchema,
  }))();

export const consumeResponse = /* @__PURE__ */ (() => z.object({ consumed: z.number().int(), remaining: nullableCount }))();
export const addResponse = /* @__PURE__ */ (() => z.object({ remaining: nullableCount }))();

export const emailChangeResponse = /* @__PURE__ */ (() =>
  z.object({
    email: z.string().nullable().meta({ description: 'The verified address the account holds now (unchanged until the code is verified)' }),
    pendingEmail: z.string().nullable().meta({ description: 'The address waiting for its code; null when it already was the account\'s address' }),
  }))();
export const emailVerifiedResponse = /* @__PURE__ */ (() => z.object({ email: z.string().meta({ description: 'The account\'s address from now on' }) }))();
export const premiumCheckResponse = /* @__PURE__ */ (() => z.object({ email: z.string(), premium: z.boolean(), source: z.enum(['cache', 'db']) }))();

export const apiUsageSchema = /* @__PURE__ */ (() => z.object({ used: z.number().int(), limit: nullableCount, resetsAt: z.string() }))();

export const entitlementsResponse = /* @__PURE__ */ (() =>
  z.object({
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
  }))();

export const redirectUrlResponse = /* @__PURE__ */ (() => z.object({ url: z.string() }))();
const deletionStep = /* @__PURE__ */ (() => z.enum(['marked', 'billing', 'data', 'cache', 'profile', 'identity', 'done']))();
/** Where an account deletion stands: never an email or a Stripe id. */
export const deletionJobSchema = /* @__PURE__ */ (() =>
  z.object({
    startedAt: z.string(),
    updatedAt: z.string(),
    finishedAt: z.string().optional(),
    completedSteps: z.array(deletionStep),
    nextStep: deletionStep.nullable(),
    purged: z.object({ ledgerEntries: z.number().int(), apiKeys: z.number().int() }),
    attempts: z.number().int(),
  }))();
export const deleteAccountResponse = /* @__PURE__ */ (() => z.object({ deleted: z.literal(true), status: z.literal('deleted'), job: deletionJobSchema.nullable() }))();
export const deletionInProgressResponse = /* @__PURE__ */ (() => z.object({ deleted: z.literal(false), status: z.literal('in-progress'), job: deletionJobSchema.nullable() }))();
export const stripeWebhookResponse = /* @__PURE__ */ (() => z.object({ received: z.literal(true) }))();

export const kofiWebhookResponse = /* @__PURE__ */ (() => z.object({ received: z.literal(true) }))();

export const awsCredentialsResponse = /* @__PURE__ */ (() =>
  z.object({
    accessKeyId: z.string(),
    secretAccessKey: z.string(),
    sessionToken: z.string(),
    expiration: z.string(),
    region: z.string(),
  }))();

export const apiKeyCreatedResponse = /* @__PURE__ */ (() => z.object({ apiKey: z.string(), prefix: z.string(), createdAt: z.string() }))();

export const verifyApiKeyResponse = /* @__PURE__ */ (() =>
  z.union([
    z.object({ valid: z.literal(true), userId: z.string(), tier: z.string(), usage: apiUsageSchema }),
    z.object({ valid: z.literal(false) }),
  ]))();
