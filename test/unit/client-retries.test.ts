import {
  createEntitlementsClient,
  EntitlementsApiError,
  EntitlementsConnectionError,
  parseRetryAfter,
  type EntitlementsClient,
} from '@entitlements-backend/client';
import { startScriptedApi, type ScriptedApi } from '../fixtures/scripted-api';

/**
 * The typed client's retry rules, observed on the wire against a real
 * node:http server: which answers are retried (429, 503, no answer), how
 * long it waits (Retry-After as seconds or a date, jittered back-off
 * otherwise), that a retried write carries the same idempotency key, and
 * what is never retried (other 4xx, writes that are not safe to repeat).
 */

const USER = '3f1c2a9e-0b7d-4c55-9a43-2d1f0e6b7c88';
const status = (tier = 'pro') => ({
  userId: USER,
  tier,
  tierSticky: false,
  status: 'active',
  accessReason: 'subscription-active',
  premium: true,
  canMakeRequest: true,
  tokens: { remaining: 10, monthlyAllowance: 5000, purchased: 0, usedThisPeriod: 4990, resetsAt: '2026-12-01T00:00:00.000Z', periodAnchor: 'billing' },
});
const err = (status: number, code: string, extra: Record<string, unknown> = {}, headers: Record<string, string> = {}) => ({
  status,
  body: { error: { code, message: `${code} (scripted)`, ...extra } },
  headers,
});
const unavailable = (headers: Record<string, string> = {}) => err(503, 'dependency_unavailable', {}, headers);
const rateLimited = (retryAfter: string) => err(429, 'rate_limited', {}, { 'retry-after': retryAfter });

let server: ScriptedApi;
let client: EntitlementsClient;

beforeEach(async () => {
  server = await startScriptedApi();
  // A short back-off keeps the tests fast; the Retry-After waits are the server's and stay real.
  client = createEntitlementsClient({ baseUrl: server.url, apiKey: 'internal-key', retries: { retries: 2, baseDelayMs: 20, maxDelayMs: 5_000 } });
});
afterEach(() => server.close());

const gap = (a: number, b: number) => (server.requests[b]?.at ?? NaN) - (server.requests[a]?.at ?? NaN);

async function rejection(promise: Promise<unknown>): Promise<EntitlementsApiError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(error instanceof EntitlementsApiError)) throw new Error(`expected an EntitlementsApiError, got ${String(error)}`);
  return error;
}

describe('retries on 429 and 503', () => {
  it('waits the Retry-After seconds of a 429, then answers the 200', async () => {
    server.script(rateLimited('1'), { status: 200, body: status() });
    const answer = await client.getUserStatus(USER);
    expect(answer.tier).toBe('pro');
    expect(server.requests).toHaveLength(2);
    expect(gap(0, 1)).toBeGreaterThanOrEqual(950);
  });

  it('waits until a Retry-After HTTP-date', async () => {
    // An HTTP-date has whole seconds: 2 s ahead is at least 1 s away once truncated.
    server.script(rateLimited(new Date(Date.now() + 2_000).toUTCString()), { status: 200, body: { email: 'a@example.com', premium: true, source: 'db' } });
    const answer = await client.checkPremium('a@example.com');
    expect(answer.premium).toBe(true);
    expect(server.requests).toHaveLength(2);
    expect(gap(0, 1)).toBeGreaterThanOrEqual(950);
  });

  it('retries a 503 without Retry-After after a short jittered back-off', async () => {
    server.script(unavailable(), { status: 200, body: status() });
    await expect(client.getUserStatus(USER)).resolves.toMatchObject({ userId: USER });
    expect(server.requests).toHaveLength(2);
    expect(gap(0, 1)).toBeLessThan(1_000);
  });

  it('honours Retry-After on a 503 too (the contention answer, Retry-After: 1)', async () => {
    server.script(unavailable({ 'retry-after': '1' }), { status: 200, body: status() });
    await client.getUserStatus(USER);
    expect(gap(0, 1)).toBeGreaterThanOrEqual(950);
  });

  it('sends the SAME idempotency key on every attempt of a consume, generated when the caller gives none', async () => {
    server.script(unavailable(), rateLimited('0'), { status: 200, body: { consumed: 3, remaining: 7 } });
    const answer = await client.consumeTokens(USER, { amount: 3 });
    expect(server.requests).toHaveLength(3);
    const keys = server.requests.map((r) => r.body.idempotencyKey as string);
    expect(new Set(keys).size).toBe(1);
    expect(keys[0]).toMatch(/^[0-9a-f-]{36}$/);
    expect(answer).toEqual({ consumed: 3, remaining: 7, idempotencyKey: keys[0], replayed: false });
    for (const request of server.requests) {
      expect(request).toMatchObject({ method: 'POST', url: `/v1/users/${USER}/tokens/consume`, body: { amount: 3 } });
      expect(request.headers['x-api-key']).toBe('internal-key');
    }
  });

  it('keeps the caller’s idempotency key across retries of an add, and reports a server replay', async () => {
    server.script(unavailable(), { status: 200, body: { remaining: 510 }, headers: { 'idempotent-replayed': 'true' } });
    const answer = await client.addTokens(USER, { amount: 500, reason: 'goodwill', idempotencyKey: 'grant-42' });
    expect(server.requests.map((r) => r.body)).toEqual([
      { amount: 500, reason: 'goodwill', idempotencyKey: 'grant-42' },
      { amount: 500, reason: 'goodwill', idempotencyKey: 'grant-42' },
    ]);
    expect(answer).toEqual({ remaining: 510, idempotencyKey: 'grant-42', replayed: true });
  });

  it('generates a new key per call (two consumes are two charges), never per attempt', async () => {
    server.script({ status: 200, body: { consumed: 1, remaining: 9 } }, { status: 200, body: { consumed: 1, remaining: 8 } });
    const first = await client.consumeTokens(USER, { amount: 1 });
    const second = await client.consumeTokens(USER, { amount: 1 });
    expect(first.idempotencyKey).not.toBe(second.idempotencyKey);
  });

  it('retries a request that got no answer at all (connection dropped) when it is safe to repeat', async () => {
    server.script('drop', { status: 200, body: { consumed: 2, remaining: 8 } });
    const answer = await client.me.consumeTokens({ amount: 2, idempotencyKey: 'me-1' });
    expect(answer.consumed).toBe(2);
    expect(server.requests.map((r) => r.body.idempotencyKey)).toEqual(['me-1', 'me-1']);
  });

  it('gives up on an attempt that does not answer within timeoutMs, and retries it when safe to repeat', async () => {
    const impatient = createEntitlementsClient({ baseUrl: server.url, apiKey: 'k', timeoutMs: 300, retries: { baseDelayMs: 5 } });
    server.script('hang', { status: 200, body: { consumed: 1, remaining: 9 } });
    const started = Date.now();
    const answer = await impatient.consumeTokens(USER, { amount: 1, idempotencyKey: 'slow-1' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    expect(answer.consumed).toBe(1);
    expect(server.requests.map((r) => r.body.idempotencyKey)).toEqual(['slow-1', 'slow-1']);
  });
});

describe('giving up', () => {
  it('stops after the configured retries and throws the last answer as a typed error', async () => {
    server.script(unavailable(), unavailable(), unavailable(), { status: 200, body: status() });
    const error = await rejection(client.getUserStatus(USER));
    expect(server.requests).toHaveLength(3); // 1 + 2 retries; the 200 is never reached
    expect(error).toMatchObject({ status: 503, code: 'dependency_unavailable', attempts: 3 });
    expect(error.body).toEqual({ error: { code: 'dependency_unavailable', message: 'dependency_unavailable (scripted)' } });
  });

  it('a consume that gave up carries the idempotency key it sent, to repeat the same change later', async () => {
    server.script(unavailable(), unavailable(), unavailable());
    const error = await rejection(client.consumeTokens(USER, { amount: 4 }));
    expect(error).toMatchObject({ status: 503, attempts: 3 });
    expect(error.idempotencyKey).toBe(server.requests[0]?.body.idempotencyKey);
    expect(server.requests.map((r) => r.body.idempotencyKey)).toEqual([error.idempotencyKey, error.idempotencyKey, error.idempotencyKey]);
  });

  it('retries: 0 sends once', async () => {
    const once = createEntitlementsClient({ baseUrl: server.url, apiKey: 'k', retries: 0 });
    server.script(unavailable(), { status: 200, body: status() });
    await expect(once.getUserStatus(USER)).rejects.toMatchObject({ status: 503, attempts: 1 });
    expect(server.requests).toHaveLength(1);
  });

  it('does not wait a Retry-After longer than its cap: throws at once with retryAfterMs to schedule', async () => {
    server.script(rateLimited('3600'), { status: 200, body: status() });
    const started = Date.now();
    const error = await rejection(client.getUserStatus(USER));
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(error).toMatchObject({ status: 429, code: 'rate_limited', retryAfterMs: 3_600_000, attempts: 1 });
    expect(server.requests).toHaveLength(1);
  });

  it('throws a connection error when nothing answers', async () => {
    const url = server.url;
    await server.close();
    const closed = createEntitlementsClient({ baseUrl: url, apiKey: 'k', retries: { retries: 1, baseDelayMs: 5 } });
    const error = await closed.getTiers().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EntitlementsConnectionError);
    expect(error).toMatchObject({ attempts: 2 });
    server = await startScriptedApi(); // for afterEach
  });
});

describe('never retried', () => {
  it.each([
    [400, 'validation_failed'],
    [401, 'unauthorized'],
    [403, 'forbidden'],
    [404, 'not_found'],
    [409, 'conflict'],
    [500, 'internal_error'],
  ])('a %i (%s), even on a request safe to repeat', async (code, name) => {
    server.script(err(code, name), { status: 200, body: { consumed: 1, remaining: 1 } });
    const error = await rejection(client.consumeTokens(USER, { amount: 1 }));
    expect(error).toMatchObject({ status: code, code: name, attempts: 1 });
    expect(server.requests).toHaveLength(1);
  });

  it('a 402: the typed error carries the body, remaining included', async () => {
    server.script(err(402, 'insufficient_tokens', { remaining: 2 }));
    const error = await rejection(client.consumeTokens(USER, { amount: 5 }));
    expect(error.status).toBe(402);
    expect(error.body.error).toEqual({ code: 'insufficient_tokens', message: 'insufficient_tokens (scripted)', remaining: 2 });
    expect(server.requests).toHaveLength(1);
  });

  it.each<[string, (c: EntitlementsClient) => Promise<unknown>]>([
    ['api key verify (counts the call)', (c) => c.verifyApiKey('evk_live_x')],
    ['checkout', (c) => c.me.checkout({ tier: 'pro' })],
    ['billing portal', (c) => c.me.billingPortal()],
    ['aws credentials', (c) => c.me.awsCredentials()],
    ['api key rotation', (c) => c.me.rotateApiKey()],
    ['email change', (c) => c.me.changeEmail('new@example.com')],
  ])('a write that is not safe to repeat: %s, on 503 and on 429', async (_name, call) => {
    server.script(unavailable(), rateLimited('0'), { status: 200, body: {} });
    await expect(call(client)).rejects.toMatchObject({ status: 503, attempts: 1 });
    await expect(call(client)).rejects.toMatchObject({ status: 429, attempts: 1 });
    expect(server.requests).toHaveLength(2);
  });

  it('a write that is not safe to repeat and timed out', async () => {
    const impatient = createEntitlementsClient({ baseUrl: server.url, accessToken: 't', timeoutMs: 200 });
    server.script('hang', { status: 200, body: {} });
    const error = await impatient.me.checkout({ tier: 'pro' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EntitlementsConnectionError);
    expect(error).toMatchObject({ attempts: 1, message: expect.stringMatching(/No answer .* after 1 attempt/) });
    expect(server.requests).toHaveLength(1);
  });

  it('a write that is not safe to repeat and got no answer', async () => {
    server.script('drop', { status: 200, body: {} });
    await expect(client.me.rotateApiKey()).rejects.toBeInstanceOf(EntitlementsConnectionError);
    expect(server.requests).toHaveLength(1);
  });
});

describe('requests and answers', () => {
  it('sends the bearer token from a function before every attempt (a refreshed token is used)', async () => {
    let n = 0;
    const app = createEntitlementsClient({ baseUrl: `${server.url}/`, accessToken: () => `token-${++n}`, retries: { baseDelayMs: 5 } });
    server.script(unavailable(), { status: 200, body: { userId: USER } });
    await app.me.entitlements();
    expect(server.requests.map((r) => [r.method, r.url, r.headers.authorization, r.headers['x-api-key']])).toEqual([
      ['GET', '/me/entitlements', 'Bearer token-1', undefined],
      ['GET', '/me/entitlements', 'Bearer token-2', undefined],
    ]);
  });

  it('checks a feature with POST {feature} on the user, retried like a read', async () => {
    server.script(unavailable(), { status: 200, body: { allowed: true, remaining: 40, limit: 100 } });
    const answer = await client.checkFeature('user/1', 'exports');
    expect(answer).toEqual({ allowed: true, remaining: 40, limit: 100 });
    expect(server.requests.map((r) => [r.method, r.url, r.body])).toEqual([
      ['POST', '/v1/users/user%2F1/features/check', { feature: 'exports' }],
      ['POST', '/v1/users/user%2F1/features/check', { feature: 'exports' }],
    ]);
  });

  it('puts an answer outside the contract (a proxy page) into the contract’s error shape', async () => {
    server.script({ status: 502, body: 'Bad Gateway', headers: { 'content-type': 'text/plain', 'x-request-id': 'req-9' } });
    const error = await rejection(client.getTiers());
    expect(error).toMatchObject({ status: 502, code: 'http_502', requestId: 'req-9' });
  });
});

describe('parseRetryAfter', () => {
  const now = Date.parse('2026-11-30T12:00:00Z');
  it('reads delta-seconds and HTTP-dates (a past date is now), and ignores anything else', () => {
    expect(parseRetryAfter('0', now)).toBe(0);
    expect(parseRetryAfter(' 120 ', now)).toBe(120_000);
    expect(parseRetryAfter('Mon, 30 Nov 2026 12:00:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfter('Mon, 30 Nov 2026 11:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('-5', now)).toBeUndefined();
    expect(parseRetryAfter('1.5', now)).toBeUndefined();
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(null, now)).toBeUndefined();
  });
});
