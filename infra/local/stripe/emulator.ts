/**
 * A Stripe emulator the real `stripe` SDK talks to over HTTP
 * (`new Stripe(key, { host: '127.0.0.1', port, protocol: 'http' })`), for
 * `npm run local` and the tests: API keys, form-encoded bodies, idempotency
 * keys, Stripe-shaped errors, and signed webhooks to the gateway's
 * `/stripe/webhook`, with switches to duplicate, delay, reorder or hold them
 * and to make API calls fail or hang. State lives in memory and starts from
 * the seeded catalogue (catalog.ts) on every start.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import Stripe from 'stripe';
import { CallRecorder, close, createLocalServer, FaultInjector, hang, header, listen, readBody, sendJson, serveControl } from '../http';
import { matchApiRoute, pathTemplate, type EventStore } from './api';
import { PRICE_IDS, type EmulatorPrices, type PriceRecord, type ProductRecord } from './catalog';
import type { StripeApiCall, StripeEmulatorControlApi } from './control';
import { redirectAfterForm, stripeControl, stripeControlRoutes, type Clock } from './control-server';
import { WebhookDelivery, type StripeEvent, type WebhookDeliveryOptions } from './delivery';
import { authenticationError, idempotencyError, injectedApiError, invalidRequest, StripeApiError } from './errors';
import { FormParseError, parseStripeForm, type FormObject } from './form';
import { newId, randomToken } from './ids';
import { servePage } from './pages';
import { StripeState } from './state';

const MAX_BODY_BYTES = 1024 * 1024;
const MAX_EVENTS = 2000;
/** Stripe prunes idempotency keys once they are at least 24 hours old; a reused key then runs as a new request. */
export const IDEMPOTENCY_KEY_TTL_SECONDS = 24 * 3600;

export interface StripeEmulatorOptions {
  /** 0 picks a free port. */
  port: number;
  host?: string;
  /** Where events are POSTed (the gateway's `/stripe/webhook`). */
  webhookUrl: string;
  webhookSecret?: string;
  secretKey?: string;
  /** `api_version` stamped on events; default: the version stripe-node pins. */
  apiVersion?: string;
  /** Products and prices to start with beyond the built-in catalogue (see catalogueSeed). */
  seed?: { products: ProductRecord[]; prices: PriceRecord[] };
  delivery?: Pick<WebhookDeliveryOptions, 'attempts' | 'retryDelayMs' | 'timeoutMs' | 'reorderWindowMs' | 'onFailure'>;
}

export interface StripeEmulator extends StripeEmulatorControlApi {
  url: string;
  port: number;
  secretKey: string;
  webhookSecret: string;
  webhookUrl: string;
  apiVersion: string;
  prices: EmulatorPrices;
  stop(): Promise<void>;
}

/** `Authorization: Bearer sk_...` (stripe-node) or `Basic base64(sk_...:)` (curl -u). */
function apiKeyOf(req: IncomingMessage): string | undefined {
  const auth = header(req, 'authorization');
  if (!auth) return undefined;
  const [scheme, value = ''] = auth.split(/\s+/, 2);
  if (scheme?.toLowerCase() === 'bearer') return value || undefined;
  if (scheme?.toLowerCase() === 'basic') return Buffer.from(value, 'base64').toString('utf8').split(':')[0] || undefined;
  return undefined;
}

const redact = (key: string) => (key.length > 12 ? `${key.slice(0, 8)}${'*'.repeat(8)}${key.slice(-4)}` : '****');

// ------------------------------------------------------------------ the emulator

export async function startStripeEmulator(options: StripeEmulatorOptions): Promise<StripeEmulator> {
  const host = options.host ?? '127.0.0.1';
  const secretKey = options.secretKey ?? `sk_test_local_${randomToken(24)}`;
  const webhookSecret = options.webhookSecret ?? `whsec_${randomToken(32)}`;
  const apiVersion = options.apiVersion ?? Stripe.API_VERSION;
  let url = `http://${host}:${options.port}`;
  const clock: Clock = { offsetSeconds: 0, now: () => Math.floor(Date.now() / 1000) + clock.offsetSeconds };
  const now = () => clock.now();

  const delivery = new WebhookDelivery({ url: options.webhookUrl, secret: webhookSecret, ...options.delivery });
  const events: StripeEvent[] = [];
  /** The API request being executed: events it causes name it, as Stripe's do. */
  let currentRequest: { id: string; idempotencyKey: string | null } | null = null;
  const state = new StripeState({
    now,
    seed: options.seed,
    baseUrl: () => url,
    emit: (type, object, previous) => {
      const event: StripeEvent = {
        id: newId('evt', 24),
        object: 'event',
        api_version: apiVersion,
        created: now(),
        data: { object: structuredClone(object), ...(previous ? { previous_attributes: structuredClone(previous) } : {}) },
        livemode: false,
        pending_webhooks: 1,
        request: { id: currentRequest?.id ?? null, idempotency_key: currentRequest?.idempotencyKey ?? null },
        type,
      };
      events.push(event);
      if (events.length > MAX_EVENTS) events.shift();
      delivery.publish(event);
    },
  });
  const eventStore: EventStore = {
    list: () => [...events].reverse(),
    delivered: (id) => delivery.delivered(id),
  };
  const faults = new FaultInjector();
  const recorder = new CallRecorder<StripeApiCall>((call) => call.operation);
  const idempotent = new Map<string, { fingerprint: string; status: number; body: unknown; requestId: string; savedAt: number }>();
  const control = stripeControl({ state, delivery, faults, recorder, clock });
  const controlRoutes = stripeControlRoutes(control, () => ({
    name: 'local Stripe emulator',
    api_version: apiVersion,
    url,
    webhook_url: options.webhookUrl,
    prices: { ...PRICE_IDS },
  }));

  // -------------------------------------------------------------- /v1: the API

  async function handleApi(req: IncomingMessage, res: ServerResponse, requestUrl: URL): Promise<void> {
    const method = (req.method ?? 'GET').toUpperCase();
    const pathname = requestUrl.pathname;
    const requestId = newId('req');
    const headers = { 'Request-Id': requestId, 'Stripe-Version': header(req, 'stripe-version') ?? apiVersion };
    const fail = (err: StripeApiError) => sendJson(res, err.status, err.toBody(), headers);

    const match = matchApiRoute(method, pathname);
    recorder.record({ at: new Date().toISOString(), operation: `${method} ${match?.template ?? pathTemplate(pathname)}`, path: pathname });

    const key = apiKeyOf(req);
    if (!key) {
      return fail(
        authenticationError(
          "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY').",
        ),
      );
    }
    if (key !== secretKey) return fail(authenticationError(`Invalid API Key provided: ${redact(key)}`));

    const fault = faults.take(method, pathname);
    if (fault?.status === 'hang') return hang(server, req, res, fault.hangMs);
    if (fault) {
      const err =
        fault.status === 429
          ? new StripeApiError(429, 'rate_limit_error', 'Too many requests (injected by the local Stripe emulator).', fault.code ?? 'rate_limit')
          : new StripeApiError(fault.status, 'api_error', injectedApiError().message, fault.code);
      return fail(err);
    }

    const body = (await readBody(req, MAX_BODY_BYTES))?.toString('utf8');
    if (body === undefined) return fail(invalidRequest('Request body too large.'));
    const contentType = header(req, 'content-type') ?? '';
    if (body && !/^application\/x-www-form-urlencoded/i.test(contentType)) {
      return fail(invalidRequest(`Invalid request: unsupported Content-Type ${contentType || '(none)'}. Use application/x-www-form-urlencoded.`));
    }
    let params: FormObject;
    try {
      params = { ...parseStripeForm(requestUrl.search.slice(1)), ...parseStripeForm(body) };
    } catch (err) {
      if (err instanceof FormParseError) return fail(invalidRequest(err.message, err.param));
      throw err;
    }

    const idempotencyKey = method === 'POST' ? header(req, 'idempotency-key') : undefined;
    const fingerprint = JSON.stringify([method, pathname, params]);
    if (idempotencyKey) {
      if (idempotencyKey.length > 255) return fail(invalidRequest('Idempotency keys can be at most 255 characters.', 'Idempotency-Key'));
      let saved = idempotent.get(idempotencyKey);
      if (saved && now() - saved.savedAt >= IDEMPOTENCY_KEY_TTL_SECONDS) {
        idempotent.delete(idempotencyKey);
        saved = undefined;
      }
      if (saved) {
        if (saved.fingerprint !== fingerprint) return fail(idempotencyError(idempotencyKey));
        return sendJson(res, saved.status, saved.body, { ...headers, 'Idempotent-Replayed': 'true', 'Original-Request': saved.requestId });
      }
    }

    if (!match) {
      return fail(
        new StripeApiError(404, 'invalid_request_error', `Unrecognized request URL (${method}: ${pathname}). The local Stripe emulator serves a subset of the API; see infra/local/stripe/api.ts.`),
      );
    }

    currentRequest = { id: requestId, idempotencyKey: idempotencyKey ?? null };
    let status = 200;
    let result: unknown;
    let save = true;
    try {
      result = match.handler(state, { params, path: match.path }, eventStore);
    } catch (err) {
      if (!(err instanceof StripeApiError)) {
        process.stderr.write(`[stripe emulator] ${method} ${pathname} failed: ${(err as Error).stack ?? String(err)}\n`);
      }
      const apiErr = err instanceof StripeApiError ? err : new StripeApiError(500, 'api_error', 'An unknown error occurred in the local Stripe emulator.');
      save = !apiErr.beforeExecution;
      status = apiErr.status;
      result = apiErr.toBody();
    } finally {
      currentRequest = null;
    }
    // Like Stripe, a key remembers the first outcome once the endpoint ran, errors and their status
    // included; parameters refused before it ran leave the key free.
    if (idempotencyKey && save) idempotent.set(idempotencyKey, { fingerprint, status, body: result, requestId, savedAt: now() });
    sendJson(res, status, result, headers);
  }

  // -------------------------------------------------------------- server

  const server = createLocalServer((req, res) => {
    const requestUrl = new URL(req.url ?? '/', 'http://emulator.local');
    const pathname = requestUrl.pathname;
    const work = async () => {
      if (pathname.startsWith('/v1/')) return handleApi(req, res, requestUrl);
      if (pathname === '/_emulator' || pathname.startsWith('/_emulator/')) {
        return serveControl(req, res, requestUrl, controlRoutes, {
          name: 'local Stripe emulator',
          maxBodyBytes: MAX_BODY_BYTES,
          parseForm: parseStripeForm,
          afterForm: redirectAfterForm,
          errorOf: (err) => (err instanceof StripeApiError ? { status: err.status === 404 ? 404 : 400, body: err.toBody() } : undefined),
        });
      }
      if (req.method === 'GET' && servePage(res, pathname, state)) return;
      sendJson(res, 404, invalidRequest(`Not found: ${req.method} ${pathname}`).toBody());
    };
    work().catch((err: unknown) => {
      process.stderr.write(`[stripe emulator] ${req.method} ${pathname} failed: ${(err as Error).stack ?? String(err)}\n`);
      if (!res.headersSent) sendJson(res, 500, { error: { type: 'api_error', message: 'An unknown error occurred in the local Stripe emulator.' } });
      else res.destroy();
    });
  });
  const port = await listen(server, options.port, host);
  url = `http://${host}:${port}`;

  let stopped: Promise<void> | undefined;
  const stop = () => {
    if (!stopped) {
      delivery.stop();
      stopped = close(server);
    }
    return stopped;
  };

  return {
    ...control,
    url,
    port,
    secretKey,
    webhookSecret,
    webhookUrl: options.webhookUrl,
    apiVersion,
    prices: { ...PRICE_IDS },
    stop,
  };
}
