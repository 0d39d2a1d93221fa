/**
 * A Stripe emulator the real `stripe` SDK talks to over HTTP
 * (`new Stripe(key, { host: '127.0.0.1', port, protocol: 'http' })`), for
 * `npm run local` and the tests: API keys, form-encoded bodies, idempotency
 * keys, Stripe-shaped errors, and signed webhooks to the gateway's
 * `/stripe/webhook`, with switches to duplicate, delay, reorder or hold them
 * and to make API calls fail or hang. State lives in memory and starts from
 * the seeded catalogue (catalog.ts) on every start.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import Stripe from 'stripe';
import type { LocalService, LocalServiceFactory } from '../stack';
import { matchApiRoute, pathTemplate, type EventStore } from './api';
import { PRICE_IDS, type EmulatorPrices } from './catalog';
import type {
  CallCounts,
  ChargeSelector,
  CheckoutCompletion,
  CustomerSummary,
  EmulatorClock,
  FlushResult,
  StripeEmulatorControlApi,
  StripeObject,
  SubscribeRequest,
  SubscriptionChange,
} from './control';
import { WebhookDelivery, type DeliverySettings, type EventLogEntry, type StripeEvent, type WebhookDeliveryOptions } from './delivery';
import { authenticationError, idempotencyError, injectedApiError, invalidRequest, resourceMissing, StripeApiError } from './errors';
import { FaultInjector, type Fault, type FaultSpec } from './faults';
import { FormParseError, parseStripeForm, type FormObject } from './form';
import { newId, randomToken } from './ids';
import { checkoutPage, invoicePage, notFoundPage, portalPage } from './pages';
import { StripeState, type ChargeTarget, type CheckoutSessionRecord, type Json } from './state';

export const STRIPE_EMULATOR_DEFAULT_PORT = 12111;
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
  /** Faults armed right now. */
  faults(): Fault[];
  stop(): Promise<void>;
}

// ------------------------------------------------------------------ small HTTP helpers

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = `${JSON.stringify(body, null, 2)}\n`;
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

function sendHtml(res: ServerResponse, status: number, html: string): void {
  res.writeHead(status, { 'Content-Type': 'text/html; charset=utf-8', 'Content-Length': Buffer.byteLength(html), 'Cache-Control': 'no-store' });
  res.end(html);
}

async function readBody(req: IncomingMessage): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) return undefined;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

const header = (req: IncomingMessage, name: string): string | undefined => {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
};

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

// Control bodies come as JSON (client, CLI) or as form posts (the HTML pages).
const asString = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : typeof v === 'number' ? String(v) : undefined);
const asBool = (v: unknown): boolean | undefined => (v === undefined || v === '' ? undefined : v === true || v === 'true' || v === '1' || v === 'on');
const selectorOf = (b: Json): ChargeSelector => ({
  charge: asString(b.charge),
  paymentIntent: asString(b.paymentIntent),
  session: asString(b.session),
  email: asString(b.email),
});
function asNumber(v: unknown, name: string): number | undefined {
  if (v === undefined || v === '' || v === null) return undefined;
  const n = typeof v === 'number' ? v : Number(v);
  if (!Number.isFinite(n)) throw invalidRequest(`${name} must be a number`, name);
  return n;
}

// ------------------------------------------------------------------ the emulator

export async function startStripeEmulator(options: StripeEmulatorOptions): Promise<StripeEmulator> {
  const host = options.host ?? '127.0.0.1';
  const secretKey = options.secretKey ?? `sk_test_local_${randomToken(24)}`;
  const webhookSecret = options.webhookSecret ?? `whsec_${randomToken(32)}`;
  const apiVersion = options.apiVersion ?? Stripe.API_VERSION;
  let url = `http://${host}:${options.port}`;
  /** The emulator's clock: real time plus what `POST /_emulator/clock` advanced it by. */
  let clockOffsetSeconds = 0;
  const now = () => Math.floor(Date.now() / 1000) + clockOffsetSeconds;

  const delivery = new WebhookDelivery({ url: options.webhookUrl, secret: webhookSecret, ...options.delivery });
  const events: StripeEvent[] = [];
  /** The API request being executed: events it causes name it, as Stripe's do. */
  let currentRequest: { id: string; idempotencyKey: string | null } | null = null;
  const state = new StripeState({
    now,
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
    get: (id) => events.find((e) => e.id === id),
  };
  const faults = new FaultInjector();
  const calls = new Map<string, number>();
  const idempotent = new Map<string, { fingerprint: string; status: number; body: unknown; requestId: string; savedAt: number }>();
  const hangs = new Set<NodeJS.Timeout>();

  // -------------------------------------------------------------- control operations (in-process)

  const completion = (session: CheckoutSessionRecord): CheckoutCompletion => ({
    session: state.renderCheckoutSession(session.id),
    customer: session.customer ? state.renderCustomer(session.customer) : null,
    subscription: session.subscription ? state.renderSubscription(session.subscription) : null,
    invoice: session.invoice ? state.renderInvoice(session.invoice) : null,
  });

  /** An email means the newest paid charge of the newest customer with it. */
  const chargeTarget = ({ email, ...target }: ChargeSelector): ChargeTarget => {
    if (!email) return target;
    const customers = state.customersByEmail(email, { caseInsensitive: true });
    const charge = customers.map((c) => state.latestChargeOf(c.id)).find((c) => c !== undefined);
    if (!charge) throw invalidRequest(`No paid charge for a customer with email ${email}.`, 'email');
    return { charge: charge.id };
  };

  const control: StripeEmulatorControlApi & { faults(): Fault[] } = {
    async completeCheckout(sessionId, { email, delayed } = {}): Promise<CheckoutCompletion> {
      return completion(state.completeCheckoutSession(sessionId, { email, delayed }));
    },
    async asyncPayment(sessionId, outcome): Promise<CheckoutCompletion> {
      if (outcome !== 'succeeded' && outcome !== 'failed') throw invalidRequest('outcome must be succeeded or failed', 'outcome');
      return completion(state.settleAsyncPayment(sessionId, outcome));
    },
    async refund({ amount, ...selector }) {
      if (amount !== undefined && (!Number.isSafeInteger(amount) || amount < 1)) throw invalidRequest('amount must be a positive whole number of cents', 'amount');
      const refund = state.createRefund({ ...chargeTarget(selector), amount, reason: 'requested_by_customer' });
      return { refund: state.renderRefund(refund.id), charge: state.renderCharge(refund.charge) };
    },
    async openDispute(selector) {
      const dispute = state.openDispute(chargeTarget(selector));
      return { dispute: state.renderDispute(dispute.id), charge: state.renderCharge(dispute.charge) };
    },
    async closeDispute({ dispute: disputeId, ...selector }, outcome) {
      if (outcome !== 'won' && outcome !== 'lost') throw invalidRequest('outcome must be won or lost', 'outcome');
      let id = disputeId;
      if (!id) {
        const charge = state.resolveCharge(chargeTarget(selector));
        id = state.openDisputeOf(charge.id)?.id;
        if (!id) throw invalidRequest(`Charge ${charge.id} has no open dispute.`, 'charge');
      }
      const dispute = state.closeDispute(id, outcome);
      return { dispute: state.renderDispute(dispute.id), charge: state.renderCharge(dispute.charge) };
    },
    async subscribe(request: SubscribeRequest) {
      const price = state.resolvePrice(request);
      let customerId = request.customer ? state.liveCustomer(request.customer, 'customer').id : undefined;
      if (!customerId) {
        const email = request.email?.trim().toLowerCase();
        if (!email) throw invalidRequest('Give the email or the customer id of who subscribes.', 'email');
        customerId = state.customersByEmail(email, { caseInsensitive: true })[0]?.id ?? state.createCustomer({ email }).id;
      }
      const current = state.currentSubscriptionOf(customerId);
      if (current && !request.another) {
        throw invalidRequest(`Customer ${customerId} already has subscription ${current.id} (${current.status}): change its price or cancel it first (or pass another: true, as the dashboard allows).`);
      }
      const { subscription } = state.createSubscription({
        customer: customerId,
        items: [{ price, quantity: 1 }],
        trialPeriodDays: request.trialDays,
        metadata: request.metadata,
      });
      return { customer: state.renderCustomer(customerId), subscription: state.renderSubscription(subscription.id) };
    },
    async changePrice(subscriptionId, target) {
      const price = state.resolvePrice(target);
      const sub = state.subscription(subscriptionId);
      const first = sub.items[0];
      state.modifySubscription(sub.id, { items: [{ id: first?.id, price }], prorationBehavior: 'create_prorations' });
      return state.renderSubscription(sub.id);
    },
    async advance(subscriptionId): Promise<SubscriptionChange> {
      const { subscription, invoice } = state.renewSubscription(subscriptionId);
      return { subscription: state.renderSubscription(subscription.id), invoice: invoice ? state.renderInvoice(invoice.id) : null };
    },
    async failPayment(subscriptionId, { final } = {}): Promise<SubscriptionChange> {
      const { subscription, invoice } = state.failPayment(subscriptionId, { final });
      return { subscription: state.renderSubscription(subscription.id), invoice: state.renderInvoice(invoice.id) };
    },
    async recover(subscriptionId): Promise<SubscriptionChange> {
      const { subscription, invoice } = state.recoverPayment(subscriptionId);
      return { subscription: state.renderSubscription(subscription.id), invoice: state.renderInvoice(invoice.id) };
    },
    async cancel(subscriptionId, { atPeriodEnd = false } = {}) {
      return state.renderSubscription(state.requestCancellation(subscriptionId, atPeriodEnd).id);
    },
    async resume(subscriptionId) {
      return state.renderSubscription(state.modifySubscription(subscriptionId, { cancelAt: null }).id);
    },
    async customers(email): Promise<CustomerSummary[]> {
      return state.customersByEmail(email, { caseInsensitive: true }).map((c) => ({
        customer: state.renderCustomer(c.id),
        subscriptions: state.subscriptionsOf(c.id).map((s) => state.renderSubscription(s.id)),
      }));
    },
    async deleteCustomer(customerId): Promise<CustomerSummary> {
      state.deleteCustomer(customerId);
      return {
        customer: state.renderCustomer(customerId),
        subscriptions: state.subscriptionsOf(customerId).map((s) => state.renderSubscription(s.id)),
      };
    },
    async events({ type } = {}): Promise<EventLogEntry[]> {
      return delivery.log().filter((e) => !type || e.type === type);
    },
    async resend(eventId) {
      const entry = delivery.resend(eventId);
      if (!entry) throw resourceMissing('event', eventId);
      return entry;
    },
    async delivery(settings?: Partial<DeliverySettings>) {
      if (!settings) return delivery.settings();
      try {
        return delivery.configure(settings);
      } catch (err) {
        throw invalidRequest((err as Error).message, 'delayMs');
      }
    },
    async flush(): Promise<FlushResult> {
      return delivery.flush();
    },
    async fault(spec: FaultSpec) {
      try {
        return faults.add(spec);
      } catch (err) {
        throw invalidRequest((err as Error).message);
      }
    },
    async resetFaults() {
      return { removed: faults.reset() };
    },
    async calls(): Promise<CallCounts> {
      const counts = Object.fromEntries([...calls.entries()].sort(([a], [b]) => a.localeCompare(b)));
      return { total: [...calls.values()].reduce((a, b) => a + b, 0), counts };
    },
    async resetCalls(): Promise<CallCounts> {
      const before = await control.calls();
      calls.clear();
      return before;
    },
    async clock(change?: { advanceSeconds?: number }): Promise<EmulatorClock> {
      if (change?.advanceSeconds !== undefined) {
        if (!Number.isFinite(change.advanceSeconds) || change.advanceSeconds < 0) throw invalidRequest('advanceSeconds must be a number >= 0 (the clock only moves forward).', 'advanceSeconds');
        clockOffsetSeconds += Math.floor(change.advanceSeconds);
      }
      return { now: now(), offsetSeconds: clockOffsetSeconds };
    },
    faults: () => faults.list(),
  };

  // -------------------------------------------------------------- /v1: the API

  async function handleApi(req: IncomingMessage, res: ServerResponse, requestUrl: URL): Promise<void> {
    const method = (req.method ?? 'GET').toUpperCase();
    const pathname = requestUrl.pathname;
    const requestId = newId('req');
    const headers = { 'Request-Id': requestId, 'Stripe-Version': header(req, 'stripe-version') ?? apiVersion };
    const fail = (err: StripeApiError) => send(res, err.status, err.toBody(), headers);

    const match = matchApiRoute(method, pathname);
    const callKey = `${method} ${match?.template ?? pathTemplate(pathname)}`;
    calls.set(callKey, (calls.get(callKey) ?? 0) + 1);

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
    if (fault?.status === 'hang') {
      // No answer: the caller's timeout fires. The connection is dropped after hangMs (or on stop).
      const timer = setTimeout(() => {
        hangs.delete(timer);
        req.socket.destroy();
      }, fault.hangMs);
      hangs.add(timer);
      res.on('close', () => {
        clearTimeout(timer);
        hangs.delete(timer);
      });
      req.resume();
      return;
    }
    if (fault) {
      const err =
        fault.status === 429
          ? new StripeApiError(429, 'rate_limit_error', 'Too many requests (injected by the local Stripe emulator).', 'rate_limit')
          : new StripeApiError(fault.status, 'api_error', injectedApiError().message);
      return fail(err);
    }

    const body = await readBody(req);
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
        return send(res, saved.status, saved.body, { ...headers, 'Idempotent-Replayed': 'true', 'Original-Request': saved.requestId });
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
    send(res, status, result, headers);
  }

  // -------------------------------------------------------------- /_emulator: the control API

  type ControlRoute = [method: string, pattern: RegExp, run: (m: RegExpExecArray, body: Json, query: URLSearchParams) => Promise<unknown>];
  const controlRoutes: ControlRoute[] = [
    ['GET', /^$/, async () => info()],
    ['POST', /^checkout\/([^/]+)\/complete$/, (m, b) => control.completeCheckout(m[1] as string, { email: asString(b.email), delayed: asBool(b.delayed) })],
    ['POST', /^checkout\/([^/]+)\/async-payment$/, (m, b) => control.asyncPayment(m[1] as string, asString(b.outcome) as 'succeeded')],
    ['POST', /^refunds$/, (_m, b) => control.refund({ ...selectorOf(b), amount: asNumber(b.amount, 'amount') })],
    ['POST', /^disputes$/, (_m, b) => control.openDispute(selectorOf(b))],
    ['POST', /^disputes\/close$/, (_m, b) => control.closeDispute({ ...selectorOf(b), dispute: asString(b.dispute) }, asString(b.outcome) as 'won')],
    [
      'POST',
      /^subscribe$/,
      (_m, b) =>
        control.subscribe({
          email: asString(b.email),
          customer: asString(b.customer),
          price: asString(b.price),
          tier: asString(b.tier),
          trialDays: asNumber(b.trialDays, 'trialDays'),
          metadata: typeof b.metadata === 'object' && b.metadata ? (b.metadata as Record<string, string>) : undefined,
          another: asBool(b.another),
        }),
    ],
    ['POST', /^subscriptions\/([^/]+)\/change-price$/, (m, b) => control.changePrice(m[1] as string, { price: asString(b.price), tier: asString(b.tier) })],
    ['POST', /^subscriptions\/([^/]+)\/advance$/, (m) => control.advance(m[1] as string)],
    ['POST', /^subscriptions\/([^/]+)\/fail-payment$/, (m, b) => control.failPayment(m[1] as string, { final: asBool(b.final) })],
    ['POST', /^subscriptions\/([^/]+)\/recover$/, (m) => control.recover(m[1] as string)],
    ['POST', /^subscriptions\/([^/]+)\/cancel$/, (m, b) => control.cancel(m[1] as string, { atPeriodEnd: asBool(b.atPeriodEnd) })],
    ['POST', /^subscriptions\/([^/]+)\/resume$/, (m) => control.resume(m[1] as string)],
    [
      'GET',
      /^customers$/,
      async (_m, _b, q) => {
        const email = q.get('email');
        if (!email) throw invalidRequest('email is required', 'email');
        return control.customers(email);
      },
    ],
    ['POST', /^customers\/([^/]+)\/delete$/, (m) => control.deleteCustomer(m[1] as string)],
    ['GET', /^events$/, (_m, _b, q) => control.events({ type: q.get('type') ?? undefined })],
    [
      'GET',
      /^events\/([^/]+)$/,
      async (m) => {
        const entry = delivery.entry(m[1] as string);
        if (!entry) throw resourceMissing('event', m[1] as string);
        return entry;
      },
    ],
    ['POST', /^events\/([^/]+)\/resend$/, (m) => control.resend(m[1] as string)],
    ['GET', /^delivery$/, () => control.delivery()],
    [
      'POST',
      /^delivery$/,
      (_m, b) =>
        control.delivery({
          duplicate: asBool(b.duplicate),
          delayMs: asNumber(b.delayMs, 'delayMs'),
          reorder: asBool(b.reorder),
          paused: asBool(b.paused),
        }),
    ],
    ['POST', /^delivery\/flush$/, () => control.flush()],
    ['GET', /^faults$/, async () => faults.list()],
    ['POST', /^faults$/, (_m, b) => control.fault(b as unknown as FaultSpec)],
    ['POST', /^reset-faults$/, () => control.resetFaults()],
    ['GET', /^clock$/, () => control.clock()],
    ['POST', /^clock$/, (_m, b) => control.clock({ advanceSeconds: asNumber(b.advanceSeconds, 'advanceSeconds') })],
    ['GET', /^calls$/, () => control.calls()],
    ['POST', /^calls\/reset$/, () => control.resetCalls()],
  ];

  function info(): Json {
    return {
      name: 'local Stripe emulator',
      api_version: apiVersion,
      url,
      webhook_url: options.webhookUrl,
      prices: { ...PRICE_IDS },
      control: controlRoutes.map(([method, pattern]) => `${method} /_emulator/${pattern.source.replace(/^\^|\$$/g, '').replace(/\(\[\^\/\]\+\)/g, ':id').replace(/\\\//g, '/')}`),
    };
  }

  async function handleControl(req: IncomingMessage, res: ServerResponse, requestUrl: URL): Promise<void> {
    const method = (req.method ?? 'GET').toUpperCase();
    const sub = requestUrl.pathname.replace(/^\/_emulator\/?/, '').replace(/\/+$/, '');
    let body: Json = {};
    let fromForm = false;
    if (method === 'POST') {
      const raw = await readBody(req);
      if (raw === undefined) return send(res, 413, invalidRequest('Request body too large.').toBody());
      if (raw.trim()) {
        if (/json/i.test(header(req, 'content-type') ?? 'application/json')) {
          try {
            body = JSON.parse(raw) as Json;
          } catch {
            return send(res, 400, invalidRequest('Body is not valid JSON.').toBody());
          }
          if (typeof body !== 'object' || body === null || Array.isArray(body)) return send(res, 400, invalidRequest('Body must be a JSON object.').toBody());
        } else {
          try {
            body = parseStripeForm(raw);
            fromForm = true;
          } catch (err) {
            return send(res, 400, invalidRequest((err as Error).message).toBody());
          }
        }
      }
    }
    const routeFound = controlRoutes.find(([m, pattern]) => m === method && pattern.test(sub));
    if (!routeFound) {
      const known = controlRoutes.some(([, pattern]) => pattern.test(sub));
      return send(res, known ? 405 : 404, invalidRequest(`${known ? 'Method not allowed' : 'Unknown control endpoint'}: ${method} ${requestUrl.pathname}`).toBody());
    }
    const [, pattern, run] = routeFound;
    try {
      const result = await run(pattern.exec(sub) as RegExpExecArray, body, requestUrl.searchParams);
      if (fromForm && body.redirect) return redirectAfterForm(res, sub, body, result);
      send(res, 200, result);
    } catch (err) {
      if (err instanceof StripeApiError) return send(res, err.status === 404 ? 404 : 400, err.toBody());
      process.stderr.write(`[stripe emulator] control ${method} ${sub} failed: ${(err as Error).stack ?? String(err)}\n`);
      send(res, 500, { error: { type: 'api_error', message: 'The local Stripe emulator failed; see its stderr.' } });
    }
  }

  /** After an HTML form: Checkout goes to its success_url (with {CHECKOUT_SESSION_ID}); other pages come back to themselves. */
  function redirectAfterForm(res: ServerResponse, sub: string, body: Json, result: unknown): void {
    let location = typeof body.redirect === 'string' && body.redirect.startsWith('/') ? body.redirect : '/';
    if (sub.startsWith('checkout/')) {
      const session = (result as CheckoutCompletion).session;
      location = session.success_url ? String(session.success_url).replace('{CHECKOUT_SESSION_ID}', session.id) : `/checkout/${session.id}`;
    }
    res.writeHead(303, { Location: location, 'Content-Length': 0 });
    res.end();
  }

  // -------------------------------------------------------------- pages

  function handlePage(res: ServerResponse, pathname: string): boolean {
    const checkout = /^\/checkout\/([^/]+)$/.exec(pathname);
    const portal = /^\/billing_portal\/([^/]+)$/.exec(pathname);
    const invoice = /^\/invoice\/([^/]+)$/.exec(pathname);
    try {
      if (checkout) {
        const session = state.checkoutSession(decodeURIComponent(checkout[1] as string));
        const rendered = state.renderCheckoutSession(session.id);
        const email = session.customerEmail ?? (session.customer ? state.customer(session.customer).email : null);
        sendHtml(res, 200, checkoutPage({ ...rendered, url: undefined }, state.renderCheckoutLineItems(session.id), email));
        return true;
      }
      if (portal) {
        const session = state.portalSession(decodeURIComponent(portal[1] as string));
        const tiers = (['basic', 'pro', 'enterprise'] as const).map((tier) => ({ tier, name: tier[0]!.toUpperCase() + tier.slice(1), price: PRICE_IDS[tier] }));
        sendHtml(
          res,
          200,
          portalPage(
            state.renderPortalSession(session.id),
            state.renderCustomer(session.customer),
            state.subscriptionsOf(session.customer).map((s) => state.renderSubscription(s.id)),
            tiers,
          ),
        );
        return true;
      }
      if (invoice) {
        sendHtml(res, 200, invoicePage(state.renderInvoice(decodeURIComponent(invoice[1] as string))));
        return true;
      }
    } catch (err) {
      if (err instanceof StripeApiError) {
        sendHtml(res, 404, notFoundPage(err.message));
        return true;
      }
      throw err;
    }
    return false;
  }

  // -------------------------------------------------------------- server

  const server: Server = createServer((req, res) => {
    const requestUrl = new URL(req.url ?? '/', 'http://emulator.local');
    const pathname = requestUrl.pathname;
    const work = async () => {
      if (pathname.startsWith('/v1/')) return handleApi(req, res, requestUrl);
      if (pathname === '/_emulator' || pathname.startsWith('/_emulator/')) return handleControl(req, res, requestUrl);
      if (req.method === 'GET' && handlePage(res, pathname)) return;
      if (req.method === 'GET' && pathname === '/') return send(res, 200, info());
      send(res, 404, invalidRequest(`Not found: ${req.method} ${pathname}`).toBody());
    };
    work().catch((err: unknown) => {
      process.stderr.write(`[stripe emulator] ${req.method} ${pathname} failed: ${(err as Error).stack ?? String(err)}\n`);
      if (!res.headersSent) send(res, 500, { error: { type: 'api_error', message: 'An unknown error occurred in the local Stripe emulator.' } });
      else res.destroy();
    });
  });
  // Idle keep-alive sockets must not keep a stopping process (or jest) alive.
  server.keepAliveTimeout = 1000;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  url = `http://${host}:${port}`;

  let stopped: Promise<void> | undefined;
  const stop = () =>
    (stopped ??= new Promise<void>((resolve) => {
      delivery.stop();
      for (const timer of hangs) clearTimeout(timer);
      hangs.clear();
      server.close(() => resolve());
      server.closeAllConnections();
    }));

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

// ------------------------------------------------------------------ the local stack's service

/** What the handlers need to talk to this emulator with the real SDK. */
export function stripeHandlerEnv(emulator: Pick<StripeEmulator, 'url' | 'port' | 'secretKey' | 'webhookSecret' | 'prices'>): Record<string, string> {
  return {
    STRIPE_SECRET_KEY: emulator.secretKey,
    STRIPE_WEBHOOK_SECRET: emulator.webhookSecret,
    STRIPE_API_HOST: '127.0.0.1',
    STRIPE_API_PORT: String(emulator.port),
    STRIPE_API_PROTOCOL: 'http',
    STRIPE_PRICE_BASIC: emulator.prices.basic,
    STRIPE_PRICE_PRO: emulator.prices.pro,
    STRIPE_PRICE_ENTERPRISE: emulator.prices.enterprise,
    STRIPE_PRICE_TOKEN_PACK: emulator.prices.tokenPack,
    STRIPE_EMULATOR_URL: emulator.url,
  };
}

/**
 * `LOCAL_STRIPE=real`: no emulator; the handlers use Stripe's test mode with
 * the keys and price ids from the environment (webhooks through
 * `stripe listen --forward-to <gateway>/stripe/webhook`, whose whsec_ goes in
 * STRIPE_WEBHOOK_SECRET).
 */
function realStripeService(): LocalService {
  const env = process.env;
  const missing = ['STRIPE_SECRET_KEY', 'STRIPE_WEBHOOK_SECRET', 'STRIPE_PRICE_BASIC', 'STRIPE_PRICE_PRO', 'STRIPE_PRICE_ENTERPRISE'].filter((n) => !env[n]);
  if (missing.length > 0) throw new Error(`LOCAL_STRIPE=real needs ${missing.join(', ')} (test-mode values).`);
  const key = env.STRIPE_SECRET_KEY as string;
  if (!/^(sk|rk)_test_/.test(key) || key.startsWith('sk_test_local_')) {
    throw new Error('LOCAL_STRIPE=real needs a test-mode key (sk_test_... or rk_test_...) from the Stripe dashboard; live keys are refused locally.');
  }
  const pass = ['STRIPE_SECRET_KEY', 'STRIPE_WEBHOOK_SECRET', 'STRIPE_PRICE_BASIC', 'STRIPE_PRICE_PRO', 'STRIPE_PRICE_ENTERPRISE', 'STRIPE_PRICE_TOKEN_PACK'];
  return {
    name: 'stripe',
    url: 'https://api.stripe.com (real test mode)',
    env: Object.fromEntries(pass.filter((n) => env[n]).map((n) => [n, env[n] as string])),
    stop: async () => undefined,
  };
}

export const stripeEmulatorService: LocalServiceFactory = {
  defaultPort: STRIPE_EMULATOR_DEFAULT_PORT,
  async start({ port, gatewayUrl }) {
    if ((process.env.LOCAL_STRIPE ?? '').toLowerCase() === 'real') return realStripeService();
    const webhookUrl = `${gatewayUrl}/stripe/webhook`;
    const emulator = await startStripeEmulator({
      port,
      webhookUrl,
      delivery: {
        onFailure: (entry) => {
          const last = entry.attempts[entry.attempts.length - 1];
          const why = last ? (last.status ?? last.error ?? 'no answer') : 'no attempt';
          process.stderr.write(`[stripe emulator] ${entry.type} ${entry.id} not delivered to ${webhookUrl} after ${entry.attempts.length} attempts (last: ${why})\n`);
        },
      },
    });
    return { name: 'stripe', url: emulator.url, env: stripeHandlerEnv(emulator), stop: () => emulator.stop() };
  },
};

export type { StripeObject };
