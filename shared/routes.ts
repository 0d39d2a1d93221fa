/**
 * The ONE route manifest. The CDK stack builds one function per handler and
 * one API Gateway method per route from it; the local gateway routes requests
 * with it; the tests check both against it.
 */
export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'DELETE' | 'PATCH';

/**
 * - `none`: public.
 * - `cognito`: a Cognito access token (API Gateway's Cognito authorizer; the
 *   user id comes only from the token's `sub`).
 * - `api-key`: internal `x-api-key`, checked by the handler in constant time.
 * - `stripe-signature`: public at the gateway, verified by the handler.
 * - `kofi-token`: public at the gateway; the handler checks Ko-fi's verification token in the payment.
 */
export type RouteAuth = 'none' | 'cognito' | 'api-key' | 'stripe-signature' | 'kofi-token';

/** A kind of write, one DynamoDB action each (transactions are authorised per item, by these same actions). */
export type TableWrite = 'put' | 'update' | 'delete';

/**
 * Tables a function may touch, and how: the CDK stack grants exactly these.
 * `readWrite` is every write (BatchWriteItem included); `{ write: [...] }` is
 * reads plus only the writes its adapters make, for functions that must not
 * be able to do more (token consume cannot delete ledger rows).
 */
export type TableAccess = 'read' | 'readWrite' | { readonly write: readonly TableWrite[] };

export interface FunctionDefinition {
  name: FunctionName;
  description: string;
  /** Table id -> access level. */
  tables: Partial<Record<import('./adapters/dynamodb/tables').TableId, TableAccess>>;
  /** Needs the Redis cache (placed in the VPC with the cache's security group). */
  redis: boolean;
  /** Reads the internal API keys secret. */
  internalApiKeys: boolean;
  /** Reads the Stripe keys secret and calls Stripe. */
  stripe?: boolean;
  /** Reads the Ko-fi verification token secret. */
  kofi?: boolean;
  /** May delete users from the Cognito user pool (AdminDeleteUser). */
  cognitoAdmin?: boolean;
  /** May read a user and start an email change in the pool (AdminGetUser, AdminUpdateUserAttributes). */
  cognitoEmail?: boolean;
  /** Sends work to the deletion worker's queue (`send`), or is that worker (`consume`, which also sends continuations). */
  deletionQueue?: 'send' | 'consume';
  /** Runs the identity sweep: Scan of the users table and cognito-idp:AdminGetUser on the pool. */
  identitySweep?: boolean;
  /** Assumes the subscriber credentials role (sts:AssumeRole + sts:SetSourceIdentity on that role only). */
  awsCredentials?: boolean;
  /**
   * Reserved concurrency: both a cap (a runaway cannot take the account's
   * whole pool) and a floor (others cannot starve it). Only for functions
   * whose load an outsider or a backlog drives.
   */
  reservedConcurrency?: number;
  /** Puts entitlement.changed on the event bus (events:PutEvents on that bus only; sets EVENT_BUS_NAME). */
  eventBus?: boolean;
  /** Memory in MB; 256 unless a function needs more. */
  memorySize?: number;
  timeoutSeconds?: number;
}

export type FunctionName =
  | 'health'
  | 'tokens-admin'
  | 'post-confirmation'
  | 'stripe-webhook'
  | 'kofi-webhook'
  | 'entitlements'
  | 'billing'
  | 'delete-account'
  | 'premium-check'
  | 'token-consume'
  | 'sts-credentials'
  | 'api-keys'
  | 'deletion-worker'
  | 'account-email'
  | 'entitlement-events'
  | 'reconciler';

export interface RouteDefinition {
  method: HttpMethod;
  /** API Gateway path template, e.g. `/v1/users/{userId}/status`. */
  path: string;
  handler: FunctionName;
  auth: RouteAuth;
  summary: string;
}

export const FUNCTIONS: Record<FunctionName, FunctionDefinition> = {
  health: {
    name: 'health',
    description: 'GET /v1/health: pings DynamoDB and Redis.',
    tables: { users: 'read' },
    redis: true,
    internalApiKeys: false,
    timeoutSeconds: 5,
    // Public and unauthenticated: a flood of health checks must not take concurrency from the paid routes.
    reservedConcurrency: 5,
  },
  'post-confirmation': {
    name: 'post-confirmation',
    description: 'Cognito post-confirmation trigger: profile (claiming its email), entitlement row and Stripe customer.',
    // kofi: claims the email's Ko-fi grant for the new account (Update, conditional) to attach it to the new row.
    tables: { users: 'readWrite', entitlements: 'readWrite', emailOwners: 'readWrite', kofi: { write: ['update'] } },
    // Drops the cached premium answer of an address it takes over from an account that no longer holds it.
    redis: true,
    internalApiKeys: false,
    stripe: true,
    cognitoEmail: true,
    timeoutSeconds: 5,
  },
  'stripe-webhook': {
    name: 'stripe-webhook',
    description: 'Stripe webhook: re-reads the customer from Stripe and writes the entitlement, order-proof.',
    tables: { users: 'readWrite', entitlements: 'readWrite', ledger: 'readWrite', idempotency: 'readWrite' },
    redis: true,
    internalApiKeys: false,
    stripe: true,
    timeoutSeconds: 20,
    // Public route with 20 s calls to Stripe: a burst (or a replay storm) must not starve the API; Stripe
    // retries what is throttled and reconciliation repairs what it gives up on.
    reservedConcurrency: 20,
  },
  'kofi-webhook': {
    name: 'kofi-webhook',
    description: "Ko-fi webhook: records every payment by supporter email; a subscription payment grants its plan for the paid month (and the owning account's row).",
    // The supporter's payment records (Put) and grant (Update: extended, claimed for the owning account), the account's
    // row (Update, behind the live-user check on users), the delivery ids (Put, read back with Get), the owner of the email (emailOwners, read).
    tables: { users: 'read', emailOwners: 'read', entitlements: { write: ['update'] }, idempotency: { write: ['put'] }, kofi: { write: ['put', 'update'] } },
    redis: true,
    internalApiKeys: false,
    kofi: true,
    timeoutSeconds: 10,
    // Public route: a flood of forged deliveries (refused at the token) must not take the API's concurrency.
    reservedConcurrency: 10,
  },
  entitlements: {
    name: 'entitlements',
    description: 'GET /me/entitlements, served from the cache when warm (API usage from the ledger table).',
    tables: { entitlements: 'read', ledger: 'read' },
    redis: true,
    internalApiKeys: false,
  },
  billing: {
    name: 'billing',
    description: 'Stripe Checkout (subscription or token top-up) and the billing portal.',
    tables: { users: 'readWrite', entitlements: 'read' },
    redis: false,
    internalApiKeys: false,
    stripe: true,
  },
  'delete-account': {
    name: 'delete-account',
    description: 'DELETE /me/account: Stripe, every DynamoDB row, cache, then the Cognito user; checkpointed, the worker finishes it.',
    tables: { users: 'readWrite', entitlements: 'readWrite', ledger: 'readWrite', idempotency: 'readWrite', apiKeys: 'readWrite', emailOwners: 'readWrite', kofi: 'readWrite' },
    redis: true,
    internalApiKeys: false,
    stripe: true,
    cognitoAdmin: true,
    deletionQueue: 'send',
    timeoutSeconds: 20,
  },
  'deletion-worker': {
    name: 'deletion-worker',
    description: 'Deletion queue worker: continues checkpointed account deletions and runs the identity sweep (Cognito users deleted behind our back).',
    tables: { users: 'readWrite', entitlements: 'readWrite', ledger: 'readWrite', idempotency: 'readWrite', apiKeys: 'readWrite', emailOwners: 'readWrite', kofi: 'readWrite' },
    redis: true,
    internalApiKeys: false,
    stripe: true,
    cognitoAdmin: true,
    deletionQueue: 'consume',
    identitySweep: true,
    timeoutSeconds: 60,
    // Background work driven by a queue backlog: it can wait, the request paths cannot.
    reservedConcurrency: 2,
  },
  'premium-check': {
    name: 'premium-check',
    description: 'POST /v1/premium/check for the app backends (x-api-key): premium by email, read through the cache.',
    // kofi: an email no account owns is premium by its Ko-fi grant, when no account owns the grant either.
    tables: { users: 'read', entitlements: 'read', emailOwners: 'read', kofi: 'read' },
    redis: true,
    internalApiKeys: true,
  },
  'tokens-admin': {
    name: 'tokens-admin',
    description: 'Tier catalogue, user status, token grants and tier overrides (invalidating the cached entitlement).',
    // The token store's writes: the row (Update: grants, tier overrides), the ledger entry and the idempotency record (Put).
    tables: { users: 'read', entitlements: { write: ['update'] }, ledger: { write: ['put'] }, idempotency: { write: ['put'] } },
    redis: true,
    internalApiKeys: true,
  },
  'token-consume': {
    name: 'token-consume',
    description: 'Token consumption: one conditional transaction with its ledger entry and idempotency record.',
    // Exactly what DynamoTokenStore writes: the balance (Update), the ledger entry and the idempotency record (Put).
    // Not the users table: the account-deletion mark a consume checks is on the entitlement row itself.
    tables: { entitlements: { write: ['update'] }, ledger: { write: ['put'] }, idempotency: { write: ['put'] } },
    redis: true,
    internalApiKeys: true,
  },
  'sts-credentials': {
    name: 'sts-credentials',
    description: 'POST /me/aws-credentials: short-lived, speech-to-text-only AWS credentials for active subscribers.',
    // The grant log: one Put per grant, beside a condition check on the live profile.
    tables: { users: 'read', entitlements: 'read', ledger: { write: ['put'] } },
    redis: true,
    internalApiKeys: false,
    awsCredentials: true,
  },
  'api-keys': {
    name: 'api-keys',
    description: 'End-user API keys: rotation (Cognito) and verification with monthly metering and a per-second limit (x-api-key).',
    // Rotation puts the new key and the owner item and deletes the old key; verify updates the period's counter.
    tables: { users: 'read', entitlements: 'read', ledger: { write: ['update'] }, apiKeys: { write: ['put', 'delete'] } },
    redis: true,
    internalApiKeys: true,
  },
  'account-email': {
    name: 'account-email',
    description: 'POST /me/email and /me/email/verify: email changes through the backend, moving the address ownership once verified.',
    // A verified address brings its unowned Ko-fi grant (kofi: update, the conditional claim) onto the account's row (entitlements: update).
    tables: { users: 'readWrite', emailOwners: 'readWrite', entitlements: { write: ['update'] }, kofi: { write: ['update'] } },
    redis: true,
    internalApiKeys: false,
    cognitoEmail: true,
    // The Stripe customer's email follows a verified change.
    stripe: true,
  },
  reconciler: {
    name: 'reconciler',
    description: 'Scheduled reconciliation: re-applies Stripe events whose delivery failed, re-syncs subscribed customers from Stripe, runs the identity sweep.',
    // What the webhook touches (a repair takes its path); the identity sweep's Scan of users also finds the subscribers.
    tables: { users: 'readWrite', entitlements: 'readWrite', ledger: 'readWrite', idempotency: 'readWrite' },
    redis: true,
    internalApiKeys: false,
    stripe: true,
    deletionQueue: 'send',
    identitySweep: true,
    // A run stores its cursor before RECONCILE_TIME_BUDGET_MS (4 min) or this timeout, whichever is first.
    timeoutSeconds: 300,
  },
  'entitlement-events': {
    name: 'entitlement-events',
    description: "Entitlements table stream: publishes entitlement.changed (previous and current access) when a user's access changed.",
    // Reads nothing: the stream record carries both images.
    tables: {},
    redis: false,
    internalApiKeys: false,
    eventBus: true,
    timeoutSeconds: 30,
  },
};

export const ROUTES: readonly RouteDefinition[] = [
  { method: 'GET', path: '/v1/health', handler: 'health', auth: 'none', summary: 'Liveness of the API and its dependencies' },
  { method: 'GET', path: '/v1/tiers', handler: 'tokens-admin', auth: 'none', summary: 'The catalogue: plans (rank order), features, top-ups' },
  { method: 'GET', path: '/v1/users/{userId}/status', handler: 'tokens-admin', auth: 'api-key', summary: "A user's tier, status and tokens" },
  { method: 'POST', path: '/v1/users/{userId}/tokens/consume', handler: 'token-consume', auth: 'api-key', summary: "Consume a user's tokens (idempotent)" },
  { method: 'POST', path: '/v1/users/{userId}/features/check', handler: 'tokens-admin', auth: 'api-key', summary: 'May the user use a feature now (metered: uses left)' },
  { method: 'POST', path: '/v1/users/{userId}/tokens/add', handler: 'tokens-admin', auth: 'api-key', summary: 'Grant purchased tokens (idempotent)' },
  { method: 'PUT', path: '/v1/users/{userId}/tier', handler: 'tokens-admin', auth: 'api-key', summary: 'Admin tier override (sticky or until the next Stripe change)' },
  { method: 'POST', path: '/me/tokens/consume', handler: 'token-consume', auth: 'cognito', summary: "Consume the caller's tokens (idempotent)" },
  { method: 'POST', path: '/v1/premium/check', handler: 'premium-check', auth: 'api-key', summary: 'Is this email premium? (app backends)' },
  { method: 'POST', path: '/stripe/webhook', handler: 'stripe-webhook', auth: 'stripe-signature', summary: 'Stripe events' },
  { method: 'POST', path: '/kofi/webhook', handler: 'kofi-webhook', auth: 'kofi-token', summary: 'Ko-fi payments (form-encoded `data` JSON with the verification token)' },
  { method: 'GET', path: '/me/entitlements', handler: 'entitlements', auth: 'cognito', summary: "The caller's entitlements" },
  { method: 'POST', path: '/me/checkout', handler: 'billing', auth: 'cognito', summary: 'Start Stripe Checkout: a subscription or a token top-up' },
  { method: 'POST', path: '/me/billing-portal', handler: 'billing', auth: 'cognito', summary: 'Open the Stripe billing portal' },
  { method: 'DELETE', path: '/me/account', handler: 'delete-account', auth: 'cognito', summary: "Delete the caller's account everywhere" },
  { method: 'POST', path: '/me/aws-credentials', handler: 'sts-credentials', auth: 'cognito', summary: 'Temporary AWS credentials for speech-to-text (active or trialing)' },
  { method: 'POST', path: '/me/api-keys', handler: 'api-keys', auth: 'cognito', summary: "Rotate the caller's API key (shown once)" },
  { method: 'POST', path: '/me/email', handler: 'account-email', auth: 'cognito', summary: "Start changing the caller's email (a code goes to the new address)" },
  { method: 'POST', path: '/me/email/verify', handler: 'account-email', auth: 'cognito', summary: 'Verify the new email with its code: the address moves to the caller' },
  { method: 'POST', path: '/v1/api-keys/verify', handler: 'api-keys', auth: 'api-key', summary: 'Verify an end-user API key and count the call' },
];

/**
 * Cognito user pool triggers -> function. The CDK stack wires them on the
 * user pool; the local stack on cognito-local through the Lambda-invoke endpoint.
 */
export type CognitoTrigger = 'PostConfirmation';
export const COGNITO_TRIGGERS: Partial<Record<CognitoTrigger, FunctionName>> = { PostConfirmation: 'post-confirmation' };

/** Queues -> the function that consumes them (an SQS event source on AWS; infra/local/queue.ts locally). */
export type QueueName = 'deletion';
export const QUEUE_CONSUMERS: Record<QueueName, FunctionName> = { deletion: 'deletion-worker' };

/**
 * Scheduled runs -> the function and the input it is invoked with
 * (EventBridge Scheduler on AWS, infra/local/scheduler.ts locally). The
 * expression comes from CDK context `contextKey` (`rate(...)` or `cron(...)`),
 * else `defaultExpression`.
 */
export type ScheduleName = 'reconcile-light' | 'reconcile-full';
export interface ScheduleDefinition {
  handler: FunctionName;
  input: Record<string, string>;
  contextKey: string;
  defaultExpression: string;
  description: string;
}
export const SCHEDULES: Record<ScheduleName, ScheduleDefinition> = {
  'reconcile-light': {
    handler: 'reconciler',
    input: { pass: 'light' },
    contextKey: 'reconcileLightSchedule',
    defaultExpression: 'rate(15 minutes)',
    description: 'Reconcile, light pass: Stripe events whose delivery failed.',
  },
  'reconcile-full': {
    handler: 'reconciler',
    input: { pass: 'full' },
    contextKey: 'reconcileFullSchedule',
    defaultExpression: 'cron(17 3 * * ? *)',
    description: 'Reconcile, full pass: failed deliveries, every subscribed customer against Stripe, the identity sweep.',
  },
};

/**
 * Table change streams -> the function that consumes them (a DynamoDB Streams
 * event source on AWS; infra/local/table-stream.ts polls DynamoDB Local's).
 * The table's definition declares the stream (shared/adapters/dynamodb/tables.ts).
 */
export const STREAM_CONSUMERS: Partial<Record<import('./adapters/dynamodb/tables').TableId, FunctionName>> = { entitlements: 'entitlement-events' };

/** Handler source file of a function, relative to the repository root. */
export function handlerEntry(name: FunctionName): string {
  return `lambdas/${name}/handler.ts`;
}

export interface RouteMatch {
  route: RouteDefinition;
  pathParameters: Record<string, string>;
}

/** Splits a template into literal and `{param}` segments once. */
function compile(path: string): RegExp {
  const pattern = path
    .split('/')
    .map((segment) => {
      const param = /^\{([A-Za-z0-9_]+)\}$/.exec(segment);
      return param ? `(?<${param[1]}>[^/]+)` : segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    })
    .join('/');
  return new RegExp(`^${pattern}$`);
}

const COMPILED = ROUTES.map((route) => ({ route, regex: compile(route.path) }));

/**
 * Matches a request the way API Gateway does: `match` for the route, or
 * `allowed` methods when the path exists under another method, or nothing.
 */
export function matchRoute(method: string, path: string): { match?: RouteMatch; allowed: HttpMethod[] } {
  const allowed: HttpMethod[] = [];
  for (const { route, regex } of COMPILED) {
    const m = regex.exec(path);
    if (!m) continue;
    if (route.method === method.toUpperCase()) {
      const pathParameters: Record<string, string> = {};
      for (const [k, v] of Object.entries(m.groups ?? {})) {
        try {
          pathParameters[k] = decodeURIComponent(v);
        } catch {
          return { allowed: [] }; // a malformed escape is no route, as on API Gateway
        }
      }
      return { match: { route, pathParameters }, allowed: [] };
    }
    allowed.push(route.method);
  }
  return { allowed };
}
