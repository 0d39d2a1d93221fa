import type { z } from 'zod';
import * as s from './schemas';

/**
 * The schemas of every route, keyed like the route manifest (`METHOD path`,
 * see `routeKey`). The OpenAPI document is generated from this registry and
 * `shared/routes.ts`; test/unit/openapi.test.ts fails when a route has no
 * entry here or an entry has no route. Not imported by the handlers (they
 * import the schemas themselves), so it adds nothing to their bundles.
 */

/** A schema with the name it gets under `components.schemas`. */
export interface NamedSchema {
  name: string;
  schema: z.ZodType;
}

/** Error statuses a route can answer, each with the contract's error body. */
export type ErrorStatus = 400 | 401 | 402 | 403 | 404 | 409 | 413 | 429 | 500 | 503;

export interface RouteSchemas {
  /** Path parameters: one property per `{param}` in the template. */
  path?: z.ZodObject;
  query?: z.ZodObject;
  body?: NamedSchema & { description?: string; contentType?: string };
  /** Success status -> body. */
  responses: Partial<Record<number, NamedSchema & { description: string }>>;
  /** Error statuses (the error body), or a body of their own (health's 503). */
  errors: Partial<Record<ErrorStatus, NamedSchema | true>>;
  /** A request that must pass the schemas (checked by the tests, shown in the document). */
  example?: { path?: Record<string, string>; body?: unknown };
}

const named = <T extends z.ZodType>(name: string, schema: T): NamedSchema => ({ name, schema });

const ERROR = true as const;
/** Every handler: an unexpected failure, a dependency down. */
const SERVER = { 500: ERROR, 503: ERROR } as const;
/** Handlers that parse a JSON body. */
const BODY = { 400: ERROR, 413: ERROR } as const;
/** x-api-key routes. */
const API_KEY = { 401: ERROR } as const;
/** Cognito routes: no or a bad token (gateway), a token for another app client (handler). */
const COGNITO = { 401: ERROR, 403: ERROR } as const;

const userStatus = named('UserStatus', s.userStatusResponse);
const redirect = named('RedirectUrl', s.redirectUrlResponse);
const consume = named('ConsumeTokensRequest', s.consumeBody);
const consumed = named('ConsumeTokensResponse', s.consumeResponse);
const userIdExample = { userId: '3f1c2a9e-0b7d-4c55-9a43-2d1f0e6b7c88' };

export const ROUTE_SCHEMAS: Record<string, RouteSchemas> = {
  'GET /v1/health': {
    responses: { 200: { ...named('Health', s.healthResponse), description: 'Up; `degraded` when Redis is down' } },
    errors: { 500: ERROR, 503: named('HealthDown', s.healthDownResponse) },
  },
  'GET /v1/tiers': {
    responses: { 200: { ...named('Tiers', s.tiersResponse), description: 'The catalogue: plans in rank order with their features, and top-up packs' } },
    errors: { 500: ERROR },
  },
  'GET /v1/users/{userId}/status': {
    path: s.userPath,
    responses: { 200: { ...userStatus, description: "The user's tier, status and tokens" } },
    errors: { 400: ERROR, ...API_KEY, 404: ERROR, ...SERVER },
    example: { path: userIdExample },
  },
  'POST /v1/users/{userId}/tokens/consume': {
    path: s.userPath,
    body: consume,
    responses: { 200: { ...consumed, description: 'Consumed (header `Idempotent-Replayed: true` on a replay)' } },
    errors: { ...BODY, ...API_KEY, 402: ERROR, 404: ERROR, 409: ERROR, ...SERVER },
    example: { path: userIdExample, body: { amount: 3, idempotencyKey: 'req-2024-0001' } },
  },
  'POST /v1/users/{userId}/features/check': {
    path: s.userPath,
    body: named('FeatureCheckRequest', s.featureCheckBody),
    responses: { 200: { ...named('FeatureCheckResponse', s.featureCheckResponse), description: 'Boolean features: `{allowed}`; metered: also `remaining` and `limit` (null = unlimited)' } },
    errors: { ...BODY, ...API_KEY, 404: ERROR, ...SERVER },
    example: { path: userIdExample, body: { feature: 'premium' } },
  },
  'POST /v1/users/{userId}/tokens/add': {
    path: s.userPath,
    body: named('AddTokensRequest', s.addBody),
    responses: { 200: { ...named('AddTokensResponse', s.addResponse), description: 'Granted (header `Idempotent-Replayed: true` on a replay)' } },
    errors: { ...BODY, ...API_KEY, 404: ERROR, 409: ERROR, ...SERVER },
    example: { path: userIdExample, body: { amount: 500, reason: 'support goodwill', idempotencyKey: 'grant-42' } },
  },
  'PUT /v1/users/{userId}/tier': {
    path: s.userPath,
    body: named('SetTierRequest', s.tierBody),
    responses: { 200: { ...userStatus, description: 'The status after the override' } },
    errors: { ...BODY, ...API_KEY, 404: ERROR, ...SERVER },
    example: { path: userIdExample, body: { tier: 'pro', sticky: true } },
  },
  'POST /me/tokens/consume': {
    body: consume,
    responses: { 200: { ...consumed, description: 'Consumed (header `Idempotent-Replayed: true` on a replay)' } },
    errors: { ...BODY, ...COGNITO, 402: ERROR, 409: ERROR, ...SERVER },
    example: { body: { amount: 1, idempotencyKey: 'me-1' } },
  },
  'POST /v1/premium/check': {
    body: named('PremiumCheckRequest', s.premiumCheckBody),
    responses: { 200: { ...named('PremiumCheckResponse', s.premiumCheckResponse), description: 'The answer and where it came from' } },
    errors: { ...BODY, ...API_KEY, ...SERVER },
    example: { body: { email: '  Demo@Example.com ' } },
  },
  'POST /stripe/webhook': {
    body: { ...named('StripeEvent', s.stripeEventBody), description: 'The raw event as Stripe signs it (verified with the Stripe-Signature header)' },
    responses: { 200: { ...named('StripeWebhookAck', s.stripeWebhookResponse), description: 'Handled, or a duplicate already handled' } },
    // 5xx on any failure after verification, so Stripe retries: 503 for a dependency, 500 otherwise.
    errors: { ...BODY, ...SERVER },
    example: { body: { id: 'evt_123', type: 'customer.subscription.updated', data: { object: { id: 'sub_123' } } } },
  },
  'POST /kofi/webhook': {
    body: {
      ...named('KofiWebhookForm', s.kofiWebhookForm),
      contentType: 'application/x-www-form-urlencoded',
      description: "Ko-fi's form post; `data.verification_token` must be this webhook's token (else 401, nothing written)",
    },
    responses: { 200: { ...named('KofiWebhookAck', s.kofiWebhookResponse), description: 'Recorded (a subscription payment also granted its plan), or a delivery already handled' } },
    // 5xx on any failure after the token held, so Ko-fi retries with the same message id.
    errors: { ...BODY, 401: ERROR, ...SERVER },
    example: {
      body: {
        data: JSON.stringify({
          verification_token: 'your-token',
          message_id: '3a1fac0c-f960-4506-a60e-824979a74e74',
          timestamp: '2026-11-30T12:00:00Z',
          type: 'Subscription',
          is_public: true,
          from_name: 'Ko-fi Team',
          message: null,
          amount: '5.00',
          url: 'https://ko-fi.com/Home/CoffeeShop?txid=00000000-1111-2222-3333-444444444444',
          email: 'supporter@example.com',
          currency: 'USD',
          is_subscription_payment: true,
          is_first_subscription_payment: true,
          kofi_transaction_id: '00000000-1111-2222-3333-444444444444',
          shop_items: null,
          tier_name: 'Gold',
          shipping: null,
        }),
      },
    },
  },
  'GET /me/entitlements': {
    responses: { 200: { ...named('Entitlements', s.entitlementsResponse), description: 'Header `x-entitlements-source: cache|db`' } },
    errors: { ...COGNITO, ...SERVER },
  },
  'POST /me/checkout': {
    body: named('CheckoutRequest', s.checkoutBody),
    responses: { 200: { ...redirect, description: 'The Stripe Checkout URL' } },
    errors: { ...BODY, ...COGNITO, 404: ERROR, 409: ERROR, ...SERVER },
    example: { body: { tier: 'pro' } },
  },
  'POST /me/billing-portal': {
    responses: { 200: { ...redirect, description: 'The Stripe billing portal URL' } },
    errors: { ...COGNITO, 404: ERROR, ...SERVER },
  },
  'DELETE /me/account': {
    responses: {
      200: { ...named('AccountDeleted', s.deleteAccountResponse), description: 'Deleted everywhere (Stripe, every row, the cache, the Cognito user); safe to call again' },
      202: {
        ...named('AccountDeletionInProgress', s.deletionInProgressResponse),
        description: 'Deletion started and checkpointed: the deletion worker finishes it; call again to see where it stands (safe at any time)',
      },
    },
    errors: { ...COGNITO, ...SERVER },
  },
  'POST /me/aws-credentials': {
    responses: { 200: { ...named('AwsCredentials', s.awsCredentialsResponse), description: 'Short-lived, speech-to-text-only credentials' } },
    errors: { ...COGNITO, 429: ERROR, ...SERVER },
  },
  'POST /me/api-keys': {
    responses: { 201: { ...named('ApiKeyCreated', s.apiKeyCreatedResponse), description: 'The new key, shown once; the previous key stops working' } },
    errors: { ...COGNITO, 404: ERROR, 409: ERROR, ...SERVER },
  },
  'POST /me/email': {
    body: named('EmailChangeRequest', s.emailChangeBody),
    responses: {
      202: { ...named('EmailChangeStarted', s.emailChangeResponse), description: 'A code was sent to the new address; nothing changes until it is verified' },
      200: { ...named('EmailChangeStarted', s.emailChangeResponse), description: 'The address already is the account\'s: nothing to do' },
    },
    errors: { ...BODY, ...COGNITO, 404: ERROR, 409: ERROR, ...SERVER },
    example: { body: { email: 'new-address@example.com' } },
  },
  'POST /me/email/verify': {
    body: named('EmailVerifyRequest', s.emailVerifyBody),
    responses: { 200: { ...named('EmailVerified', s.emailVerifiedResponse), description: 'The address is the account\'s now; the old one is released' } },
    errors: { ...BODY, ...COGNITO, 404: ERROR, 409: ERROR, ...SERVER },
    example: { body: { code: '123456' } },
  },
  'POST /v1/api-keys/verify': {
    body: named('VerifyApiKeyRequest', s.verifyApiKeyBody),
    responses: { 200: { ...named('VerifyApiKeyResponse', s.verifyApiKeyResponse), description: '`valid: false` for any unknown, rotated or malformed key' } },
    errors: { ...BODY, ...API_KEY, 429: ERROR, ...SERVER },
    example: { body: { apiKey: 'evk_live_example' } },
  },
};
