import * as z from 'zod';
import {
  CREDENTIAL_ACTIONS,
  DEFAULT_CREDENTIAL_DURATION_SECONDS,
  MAX_CREDENTIAL_DURATION_SECONDS,
  MIN_CREDENTIAL_DURATION_SECONDS,
  validateCredentialActions,
} from '../domain/aws-credentials';

/**
 * Configuration is parsed once, at cold start, from the environment. Each
 * handler composes the sections it needs; a missing or malformed variable
 * fails loudly with its name. No silent defaults for secrets or table names.
 */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration: ${problems.join('; ')}`);
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;

type Sections = Record<string, z.ZodType>;
export type ConfigOf<S extends Sections> = { [K in keyof S]: z.infer<S[K]> };

/**
 * Parses every section from the same environment and reports every problem at
 * once, naming each variable: `loadConfig({ aws: awsSection, tables: tablesSection })`.
 */
export function loadConfig<S extends Sections>(sections: S, env: Env = process.env): ConfigOf<S> {
  const problems: string[] = [];
  const out: Record<string, unknown> = {};
  for (const [key, schema] of Object.entries(sections)) {
    const result = schema.safeParse(env);
    if (result.success) {
      out[key] = result.data;
      continue;
    }
    for (const issue of result.error.issues) {
      const name = issue.path.join('.') || '(root)';
      const value = typeof issue.path[0] === 'string' ? env[issue.path[0]] : undefined;
      problems.push(value === undefined && issue.code === 'invalid_type' ? `${name} is required but not set` : `${name}: ${issue.message}`);
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return out as ConfigOf<S>;
}

// Every schema below is built by a call annotated @__PURE__ (esbuild's
// marker): esbuild drops from a function's bundle the schemas it never uses,
// so a function builds at cold start only the schemas it needs
// (bench/cold-start.bench.ts, module rows); tsx and jest, which do not
// bundle, still build them all.
const nonEmpty = /* @__PURE__ */ (() => z.string().trim().min(1))();
const url = /* @__PURE__ */ (() => z.url())();
const bool = /* @__PURE__ */ (() =>
  z
    .enum(['true', 'false', '1', '0'])
    .transform((v) => v === 'true' || v === '1'))();
const positiveInt = /* @__PURE__ */ (() => z.coerce.number().int().positive())();

/**
 * AWS SDK settings. Endpoint overrides exist for the local stack (and tests) only.
 * Every AWS client (DynamoDB, Secrets Manager, Cognito, STS) gets the same
 * bounds, well below the functions' timeouts (5-20 s) and API Gateway's 29 s:
 * a call that cannot connect within AWS_CONNECT_TIMEOUT_MS, or has no answer
 * within AWS_REQUEST_TIMEOUT_MS, fails, and is tried AWS_MAX_ATTEMPTS times in
 * all; worst case about attempts x (connect + request) plus the SDK's back-off.
 */
export const awsSection = /* @__PURE__ */ (() =>
  z.object({
    AWS_REGION: nonEmpty,
    DYNAMODB_ENDPOINT: url.optional(),
    SECRETS_MANAGER_ENDPOINT: url.optional(),
    AWS_CONNECT_TIMEOUT_MS: positiveInt.max(10_000).default(1000),
    AWS_REQUEST_TIMEOUT_MS: positiveInt.max(10_000).default(2000),
    AWS_MAX_ATTEMPTS: positiveInt.max(5).default(2),
  }))();

/** Physical table names, set by the CDK stack or the local stack. */
export const tablesSection = /* @__PURE__ */ (() =>
  z.object({
    TABLE_USERS: nonEmpty,
    TABLE_ENTITLEMENTS: nonEmpty,
    TABLE_LEDGER: nonEmpty,
    TABLE_IDEMPOTENCY: nonEmpty,
    TABLE_API_KEYS: nonEmpty,
    TABLE_EMAIL_OWNERS: nonEmpty,
    TABLE_KOFI: nonEmpty,
  }))();

/**
 * Redis: `REDIS_URL` (redis:// or rediss://) with the AUTH token in Secrets
 * Manager on AWS. `REDIS_DISABLED=true` runs without a cache (local only):
 * every read then comes from DynamoDB and health reports `degraded`.
 */
export const redisSection = /* @__PURE__ */ (() =>
  z
    .object({
      REDIS_URL: z
        .string()
        .regex(/^rediss?:\/\/[^\s]+$/, 'must be a redis:// or rediss:// URL')
        .optional(),
      REDIS_AUTH_SECRET_ARN: nonEmpty.optional(),
      REDIS_DISABLED: bool.default(false),
      REDIS_CONNECT_TIMEOUT_MS: positiveInt.max(10_000).default(1000),
      REDIS_COMMAND_TIMEOUT_MS: positiveInt.max(10_000).default(50),
      /** Failed (re)connection attempts a command issued while disconnected sits through before it fails (the client's maxRetriesPerRequest). */
      REDIS_MAX_RETRIES_PER_REQUEST: z.coerce.number().int().min(0).max(5).default(1),
    })
    .refine((c) => c.REDIS_DISABLED || c.REDIS_URL !== undefined, {
      message: 'REDIS_URL is required unless REDIS_DISABLED=true',
      path: ['REDIS_URL'],
    }))();

/**
 * The read cache (shared/adapters/redis/cache.ts): entries live
 * `CACHE_TTL_SECONDS` (±10% jitter so keys written together do not expire
 * together). The circuit breaker opens after `CACHE_BREAKER_FAILURES`
 * consecutive Redis failures and lets one probe through after
 * `CACHE_BREAKER_COOLDOWN_MS`; while open, reads go straight to DynamoDB.
 */
export const cacheSection = /* @__PURE__ */ (() =>
  z.object({
    CACHE_TTL_SECONDS: positiveInt.default(300),
    CACHE_BREAKER_FAILURES: positiveInt.default(3),
    CACHE_BREAKER_COOLDOWN_MS: positiveInt.default(5000),
  }))();
export type CacheConfig = z.infer<typeof cacheSection>;

/**
 * Internal API keys for server-to-server callers. On AWS they live in Secrets
 * Manager (`INTERNAL_API_KEYS_SECRET_ARN`); the local stack passes them
 * directly (`INTERNAL_API_KEYS`). Several keys, comma separated or a JSON
 * array, so a key can be rotated without downtime.
 */
export const internalKeysSection = /* @__PURE__ */ (() =>
  z
    .object({
      INTERNAL_API_KEYS_SECRET_ARN: nonEmpty.optional(),
      INTERNAL_API_KEYS: nonEmpty.optional(),
    })
    .refine((c) => c.INTERNAL_API_KEYS_SECRET_ARN !== undefined || c.INTERNAL_API_KEYS !== undefined, {
      message: 'INTERNAL_API_KEYS_SECRET_ARN (or INTERNAL_API_KEYS locally) is required',
      path: ['INTERNAL_API_KEYS_SECRET_ARN'],
    }))();

/**
 * Cognito app clients whose access tokens the /me routes accept. API Gateway's
 * Cognito authorizer checks the pool; this narrows it to our own clients.
 */
/** Only the Cognito endpoint override, for the identity client's wiring (which needs no more of the section to be built). */
export const cognitoEndpointSection = /* @__PURE__ */ (() => z.object({ COGNITO_ENDPOINT: url.optional() }))();

export const cognitoSection = /* @__PURE__ */ (() =>
  cognitoEndpointSection.extend({
    COGNITO_USER_POOL_ID: nonEmpty,
    COGNITO_CLIENT_IDS: nonEmpty.transform((v) => v.split(',').map((s) => s.trim()).filter(Boolean)),
  }))();

export type AwsConfig = z.infer<typeof awsSection>;
export type TablesConfig = z.infer<typeof tablesSection>;
export type RedisConfig = z.infer<typeof redisSection>;
export type InternalKeysConfig = z.infer<typeof internalKeysSection>;
export type CognitoConfig = z.infer<typeof cognitoSection>;

/**
 * Stripe: on AWS one Secrets Manager secret holds `{"secretKey", "webhookSecret"}`
 * (`STRIPE_SECRET_ARN`); locally the values come directly. The API host
 * overrides exist for the local Stripe emulator.
 */
export const stripeSection = /* @__PURE__ */ (() =>
  z
    .object({
      STRIPE_SECRET_ARN: nonEmpty.optional(),
      STRIPE_SECRET_KEY: nonEmpty.optional(),
      STRIPE_WEBHOOK_SECRET: nonEmpty.optional(),
      STRIPE_API_HOST: nonEmpty.optional(),
      STRIPE_API_PORT: positiveInt.optional(),
      STRIPE_API_PROTOCOL: z.enum(['http', 'https']).optional(),
      /**
       * Per-attempt timeout (no answer for this long: the attempt fails) and the
       * SDK's retries of network failures and timeouts (idempotency keys make them
       * safe). Worst case about (1 + retries) x timeout + ~0.5 s back-off: the
       * post-confirmation trigger must answer Cognito within 5 s.
       */
      STRIPE_TIMEOUT_MS: positiveInt.max(10_000).default(2000),
      STRIPE_MAX_NETWORK_RETRIES: z.coerce.number().int().min(0).max(3).default(1),
      /** Where Checkout and the billing portal send the user back to. */
      APP_BASE_URL: url,
    })
    .refine((c) => c.STRIPE_SECRET_ARN !== undefined || (c.STRIPE_SECRET_KEY !== undefined && c.STRIPE_WEBHOOK_SECRET !== undefined), {
      message: 'STRIPE_SECRET_ARN (or STRIPE_SECRET_KEY and STRIPE_WEBHOOK_SECRET locally) is required',
      path: ['STRIPE_SECRET_ARN'],
    }))();
export type StripeConfig = z.infer<typeof stripeSection>;

/**
 * Ko-fi's webhook verification token: on AWS a Secrets Manager secret whose
 * whole SecretString is the token (`KOFI_SECRET_ARN`); locally the token
 * itself (`KOFI_VERIFICATION_TOKEN`, generated by the local stack).
 */
export const kofiSection = /* @__PURE__ */ (() =>
  z
    .object({
      KOFI_SECRET_ARN: nonEmpty.optional(),
      KOFI_VERIFICATION_TOKEN: nonEmpty.optional(),
    })
    .refine((c) => c.KOFI_SECRET_ARN !== undefined || c.KOFI_VERIFICATION_TOKEN !== undefined, {
      message: 'KOFI_SECRET_ARN (or KOFI_VERIFICATION_TOKEN locally) is required',
      path: ['KOFI_SECRET_ARN'],
    }))();
export type KofiConfig = z.infer<typeof kofiSection>;

/**
 * Subscriber AWS credentials (sts-credentials): the role to assume, how long
 * sessions last (900 s by default, at most 3600: a role assumed by a role is
 * capped at one hour), which actions the session policy allows (a subset of
 * CREDENTIAL_ACTIONS in shared/domain/aws-credentials.ts, comma separated;
 * all of them by default) and how many grants a user may get a minute.
 * `STS_ENDPOINT` exists for the local STS emulator only.
 */
/** Only the credentials rate, which every function's access decision reads (the whole section is sts-credentials' own). */
export const credentialsRateSection = /* @__PURE__ */ (() => z.object({ CREDENTIALS_RATE_LIMIT_PER_MINUTE: positiveInt.default(10) }))();

export const credentialsSection = /* @__PURE__ */ (() =>
  credentialsRateSection.extend({
    CREDENTIALS_ROLE_ARN: z.string().regex(/^arn:aws[\w-]*:iam::\d{12}:role\/[\w+=,.@/-]{1,512}$/, 'must be an IAM role ARN'),
    CREDENTIALS_DURATION_SECONDS: z.coerce
      .number()
      .int()
      .min(MIN_CREDENTIAL_DURATION_SECONDS, `must be at least ${MIN_CREDENTIAL_DURATION_SECONDS}`)
      .max(MAX_CREDENTIAL_DURATION_SECONDS, `must be at most ${MAX_CREDENTIAL_DURATION_SECONDS}`)
      .default(DEFAULT_CREDENTIAL_DURATION_SECONDS),
    CREDENTIALS_ALLOWED_ACTIONS: z
      .string()
      .optional()
      .transform((v, ctx) => {
        if (v === undefined || v.trim() === '') return [...CREDENTIAL_ACTIONS];
        const actions = [...new Set(v.split(',').map((a) => a.trim()).filter(Boolean))];
        const unknown = validateCredentialActions(actions);
        if (actions.length === 0 || unknown.length > 0) {
          ctx.addIssue({ code: 'custom', message: `must be a non-empty subset of ${CREDENTIAL_ACTIONS.join(', ')} (not allowed: ${unknown.join(', ') || 'none given'})` });
          return z.NEVER;
        }
        return actions;
      }),
    STS_ENDPOINT: url.optional(),
  }))();
export type CredentialsConfig = z.infer<typeof credentialsSection>;

/**
 * End-user API keys (api-keys): verified calls per user per window (a
 * sliding window in Redis; the window is one second in production, longer
 * only for tests and demos). Monthly limits and a plan's own rate (rateLimitPerSecond) come from the catalogue.
 */
export const apiKeysSection = /* @__PURE__ */ (() =>
  z.object({
    API_KEY_RATE_LIMIT: positiveInt.default(10),
    API_KEY_RATE_WINDOW_MS: positiveInt.default(1000),
  }))();
export type ApiKeysConfig = z.infer<typeof apiKeysSection>;

/**
 * Account deletion (delete-account, deletion-worker): the worker's queue, how
 * long one run works before it checkpoints and hands over to the worker
 * (`DELETION_TIME_BUDGET_MS`, well below the function timeout), and how many
 * rows the purge deletes between two checkpoints. `SQS_ENDPOINT` exists for
 * the local stack's in-process queue only.
 */
export const deletionSection = /* @__PURE__ */ (() =>
  z.object({
    DELETION_QUEUE_URL: z.url(),
    SQS_ENDPOINT: url.optional(),
    DELETION_TIME_BUDGET_MS: z.coerce.number().int().min(0).default(8000),
    DELETION_BATCH_SIZE: z.coerce.number().int().min(1).max(1000).default(200),
    /** The reconcile sweep resumes a deletion whose job has not moved for this long. */
    DELETION_STALL_AFTER_MS: positiveInt.default(15 * 60 * 1000),
  }))();
export type DeletionConfig = z.infer<typeof deletionSection>;

/**
 * The reconciler (scheduled): how long one run works before it stores its
 * cursor (the function's remaining time caps it too), how many Stripe calls
 * it starts per second (well under Stripe's 100 a second live and 25 in test
 * mode, which the webhook and the routes share), and the page size of the
 * event and user listings (Stripe lists at most 100).
 */
export const reconcileSection = /* @__PURE__ */ (() =>
  z.object({
    RECONCILE_TIME_BUDGET_MS: positiveInt.default(240_000),
    RECONCILE_STRIPE_CALLS_PER_SECOND: z.coerce.number().positive().max(50).default(10),
    RECONCILE_PAGE_SIZE: z.coerce.number().int().min(1).max(100).default(100),
    RECONCILE_IN_FLIGHT_SECONDS: z.coerce.number().int().min(0).max(3600).default(600),
  }))();
export type ReconcileConfig = z.infer<typeof reconcileSection>;

/**
 * entitlement.changed (the stream publisher): the bus it puts events on.
 * `EVENTBRIDGE_ENDPOINT` exists for the local stack's in-process bus only.
 */
export const eventsSection = /* @__PURE__ */ (() =>
  z.object({
    EVENT_BUS_NAME: nonEmpty,
    EVENTBRIDGE_ENDPOINT: url.optional(),
  }))();
export type EventsConfig = z.infer<typeof eventsSection>;
