import createClient, { type Client } from 'openapi-fetch';
import type { components, paths } from './generated/api';
import { retryPolicyOf, sendWithRetries, type AttemptResult, type RetryPolicy } from './retry';

/** The API's schemas by name (`Schemas['UserStatus']`), as generated from its OpenAPI document. */
export type Schemas = components['schemas'];

export interface EntitlementsClientOptions {
  /** The API's base URL, e.g. `https://api.example.com/prod` or the local gateway `http://127.0.0.1:3000`. */
  baseUrl: string;
  /** The internal API key (`x-api-key`) of an app backend: the `/v1/...` routes. Never ship it to a browser. */
  apiKey?: string;
  /**
   * A Cognito access token for the `/me/...` routes (a browser or mobile app
   * acting as its signed-in user), or a function returning the current one
   * (called before every request, so a refreshed token is picked up).
   */
  accessToken?: string | (() => string | Promise<string>);
  /** A fetch implementation (default: the global one), e.g. to add tracing or a proxy agent. */
  fetch?: (input: Request, init?: RequestInit) => Promise<Response>;
  /**
   * Retries of requests that are safe to repeat, on 429 and 503 (and on no
   * answer at all): a number of retries, or the whole policy. Default: 2
   * retries, 200 ms back-off base, 5 s longest wait. `0` turns them off.
   */
  retries?: number | Partial<RetryPolicy>;
  /**
   * Longest wait for one attempt's answer, body included (default 30 000 ms:
   * API Gateway answers within 29 s, so no real answer is cut short). A
   * timed-out attempt counts as no answer: retried only when safe to repeat.
   */
  timeoutMs?: number;
}

/**
 * A consume or an add as the document defines it (so a field added to the
 * route's schema is accepted here after `npm run client`), with the
 * idempotency key optional: the client generates one when it is missing.
 */
export type WithOptionalKey<Body extends { idempotencyKey: string }> = Omit<Body, 'idempotencyKey'> & { idempotencyKey?: string };
export type ConsumeRequest = WithOptionalKey<Schemas['ConsumeTokensRequest']>;
export type AddTokensRequest = WithOptionalKey<Schemas['AddTokensRequest']>;

/** What a consume or an add answers, plus the idempotency key it used and whether the server replayed an earlier result. */
export type IdempotentAnswer<T> = T & {
  /** The key sent (the caller's, or the one generated for this call): send it again to repeat the same change safely. */
  idempotencyKey: string;
  /** True when the server had already applied this key and answered its first result (header `Idempotent-Replayed`). */
  replayed: boolean;
};

type JsonOf<R> = R extends { content: { 'application/json': infer Body } } ? Body : never;
type SuccessOf<Operation> = Operation extends { responses: infer R } ? JsonOf<R[Extract<keyof R, 200 | 201>]> : never;
type OperationIn<Paths, Path extends string, Method extends string> = Path extends keyof Paths ? (Paths[Path] extends Record<Method, infer Op> ? Op : never) : never;
/** The JSON body of a route's 200 (or 201) in the generated document, e.g. `SuccessBody<'/v1/tiers', 'get'>`. */
export type SuccessBody<Path extends keyof paths & string, Method extends string> = SuccessOf<OperationIn<paths, Path, Method>>;
/** What `checkFeature` answers: `{allowed}`, and for a metered feature `remaining` and `limit` (null = unlimited). */
export type FeatureCheck = Schemas['FeatureCheckResponse'];

export interface EntitlementsClient {
  // ---- app backends (x-api-key)
  /** Is this email premium? Emails are trimmed and lower-cased by the server. */
  checkPremium(email: string): Promise<Schemas['PremiumCheckResponse']>;
  /** May this user use `feature` (any key of the operator's catalogue), and how much is left of a metered one? */
  checkFeature(userId: string, feature: string): Promise<FeatureCheck>;
  getUserStatus(userId: string): Promise<Schemas['UserStatus']>;
  /**
   * Spends tokens once per idempotency key: give the key of your own
   * request (so a retry of YOUR request is not charged twice either), or
   * let the client generate one; it is reused on every retry of this call.
   * A 402 (`insufficient_tokens`, with `remaining`; `feature_limit_reached` for a metered
   * feature) is an `EntitlementsApiError`.
   */
  consumeTokens(userId: string, request: ConsumeRequest): Promise<IdempotentAnswer<Schemas['ConsumeTokensResponse']>>;
  /** Grants purchased tokens once per idempotency key (generated when not given, reused on retries). */
  addTokens(userId: string, request: AddTokensRequest): Promise<IdempotentAnswer<Schemas['AddTokensResponse']>>;
  /** Admin tier override; `sticky` keeps it through later Stripe changes. */
  setTier(userId: string, request: Schemas['SetTierRequest']): Promise<Schemas['UserStatus']>;
  /** Verifies an end user's API key and counts the call (so it is never retried: a retry would count twice). */
  verifyApiKey(apiKey: string): Promise<Schemas['VerifyApiKeyResponse']>;
  getTiers(): Promise<Schemas['Tiers']>;

  // ---- the signed-in user (Cognito access token)
  me: {
    entitlements(): Promise<Schemas['Entitlements']>;
    consumeTokens(request: ConsumeRequest): Promise<IdempotentAnswer<Schemas['ConsumeTokensResponse']>>;
    checkout(request: Schemas['CheckoutRequest']): Promise<Schemas['RedirectUrl']>;
    billingPortal(): Promise<Schemas['RedirectUrl']>;
    awsCredentials(): Promise<Schemas['AwsCredentials']>;
    /** The new key is shown once; the previous one stops working at once. */
    rotateApiKey(): Promise<Schemas['ApiKeyCreated']>;
    changeEmail(email: string): Promise<Schemas['EmailChangeStarted']>;
    verifyEmail(code: string): Promise<Schemas['EmailVerified']>;
    /** Safe to call again at any time: `status` says whether the deletion finished or is still in progress. */
    deleteAccount(): Promise<Schemas['AccountDeleted'] | Schemas['AccountDeletionInProgress']>;
  };

  /**
   * The typed openapi-fetch client over every route of the document, for
   * routes without a helper here. It throws nothing and does not retry: it
   * answers `{data, error, response}`.
   */
  raw: Client<paths>;
}

/** Whether a request may be sent again after a 429/503 or no answer without changing anything twice. */
const SAFE = true;
const UNSAFE = false;

const replayed = (response: Response) => response.headers.get('idempotent-replayed') === 'true';
const newIdempotencyKey = () => globalThis.crypto.randomUUID();

export const DEFAULT_TIMEOUT_MS = 30_000;

export function createEntitlementsClient(options: EntitlementsClientOptions): EntitlementsClient {
  const policy = retryPolicyOf(options.retries);
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  if (!Number.isInteger(timeoutMs) || timeoutMs <= 0) throw new RangeError(`timeoutMs must be a whole number > 0, got ${String(timeoutMs)}`);
  const { fetch: customFetch } = options;
  const raw = createClient<paths>({
    baseUrl: options.baseUrl.replace(/\/+$/, ''),
    // A fresh deadline per attempt; the global fetch is called as a method (browsers refuse it detached).
    fetch: (request) => {
      const init = { signal: AbortSignal.timeout(timeoutMs) };
      return customFetch ? customFetch(request, init) : globalThis.fetch(request, init);
    },
  });
  const { apiKey, accessToken } = options;
  raw.use({
    async onRequest({ request }) {
      if (apiKey) request.headers.set('x-api-key', apiKey);
      const token = typeof accessToken === 'function' ? await accessToken() : accessToken;
      if (token) request.headers.set('authorization', `Bearer ${token}`);
      return request;
    },
  });

  /** Success data, or the typed error; retried only when `safeToRepeat`. */
  const send = async <T>(attempt: () => Promise<AttemptResult<T>>, safeToRepeat: boolean, idempotencyKey?: string) =>
    sendWithRetries(attempt, safeToRepeat, policy, idempotencyKey);
  const data = async <T>(attempt: () => Promise<AttemptResult<T>>, safeToRepeat: boolean): Promise<T> => (await send(attempt, safeToRepeat)).data;

  // The body (and so its key) is built once, outside the attempt: every retry sends the same key.
  const consumeFor = async (userId: string | undefined, request: ConsumeRequest) => {
    const body = { ...request, idempotencyKey: request.idempotencyKey ?? newIdempotencyKey() };
    const answer = await send(
      () => (userId === undefined ? raw.POST('/me/tokens/consume', { body }) : raw.POST('/v1/users/{userId}/tokens/consume', { params: { path: { userId } }, body })),
      SAFE,
      body.idempotencyKey,
    );
    return { ...answer.data, idempotencyKey: body.idempotencyKey, replayed: replayed(answer.response) };
  };

  return {
    checkPremium: (email) => data(() => raw.POST('/v1/premium/check', { body: { email } }), SAFE),
    checkFeature: (userId, feature) =>
      data(() => raw.POST('/v1/users/{userId}/features/check', { params: { path: { userId } }, body: { feature } }), SAFE),
    getUserStatus: (userId) => data(() => raw.GET('/v1/users/{userId}/status', { params: { path: { userId } } }), SAFE),
    consumeTokens: (userId, request) => consumeFor(userId, request),
    addTokens: async (userId, request) => {
      const body = { ...request, idempotencyKey: request.idempotencyKey ?? newIdempotencyKey() };
      const answer = await send(() => raw.POST('/v1/users/{userId}/tokens/add', { params: { path: { userId } }, body }), SAFE, body.idempotencyKey);
      return { ...answer.data, idempotencyKey: body.idempotencyKey, replayed: replayed(answer.response) };
    },
    // PUT sets a value: sending it twice leaves the same tier (RFC 9110 idempotent method).
    setTier: (userId, request) => data(() => raw.PUT('/v1/users/{userId}/tier', { params: { path: { userId } }, body: request }), SAFE),
    verifyApiKey: (key) => data(() => raw.POST('/v1/api-keys/verify', { body: { apiKey: key } }), UNSAFE),
    getTiers: () => data(() => raw.GET('/v1/tiers'), SAFE),
    me: {
      entitlements: () => data(() => raw.GET('/me/entitlements'), SAFE),
      consumeTokens: (request) => consumeFor(undefined, request),
      // Checkout, portal, credentials, key rotation and email changes each create something new per call: never repeated.
      checkout: (request) => data(() => raw.POST('/me/checkout', { body: request }), UNSAFE),
      billingPortal: () => data(() => raw.POST('/me/billing-portal'), UNSAFE),
      awsCredentials: () => data(() => raw.POST('/me/aws-credentials'), UNSAFE),
      rotateApiKey: () => data(() => raw.POST('/me/api-keys'), UNSAFE),
      changeEmail: (email) => data(() => raw.POST('/me/email', { body: { email } }), UNSAFE),
      verifyEmail: (code) => data(() => raw.POST('/me/email/verify', { body: { code } }), UNSAFE),
      // The contract makes deletion safe to call again at any time.
      deleteAccount: () => data(() => raw.DELETE('/me/account'), SAFE),
    },
    raw,
  };
}
