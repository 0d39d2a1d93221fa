/**
 * Webhook delivery the way Stripe does it, sped up for a laptop: each event
 * is POSTed as pretty-printed JSON (so a handler that re-serialises the body
 * before verifying fails here as it would in production) with a fresh
 * `Stripe-Signature` per attempt; a non-2xx answer or a network error is
 * retried with backoff (3 attempts, 200 ms then 400 ms apart by default,
 * where Stripe retries for days).
 *
 * Switches a test can flip at runtime, for the things Stripe does not
 * promise: `duplicate` (every event twice, same id), `delayMs`, `reorder`
 * (events are buffered for a short window and sent shuffled), `paused`
 * (queued until resumed or flushed) and `drop` (every event, or only those
 * of `dropCustomers`, is lost: logged as failed and never sent, as when an
 * endpoint stays down past Stripe's retries; `events.list` with
 * `delivery_success=false` still finds it, which is what reconciliation reads).
 */
import { request as httpRequest, type ClientRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { stripeSignatureHeader } from './signature';

export interface StripeEvent {
  id: string;
  object: 'event';
  api_version: string;
  created: number;
  data: { object: Record<string, any>; previous_attributes?: Record<string, any> };
  livemode: false;
  pending_webhooks: number;
  request: { id: string | null; idempotency_key: string | null };
  type: string;
}

export interface DeliverySettings {
  duplicate: boolean;
  delayMs: number;
  reorder: boolean;
  paused: boolean;
  drop: boolean;
  /** Customers whose events are dropped while `drop` is off (a test loses one subscription's webhooks, not everyone's). */
  dropCustomers: string[];
}

export interface DeliveryAttempt {
  at: string;
  /** HTTP status, or null when the request failed (refused, reset, timed out). */
  status: number | null;
  error?: string;
  /** First bytes of the receiver's answer, to see why it refused. */
  response?: string;
  durationMs: number;
  duplicate?: boolean;
}

export type DeliveryState = 'queued' | 'delivering' | 'retrying' | 'delivered' | 'failed';

export interface EventLogEntry {
  id: string;
  type: string;
  created: number;
  /** The id of `data.object`. */
  objectId: string | null;
  state: DeliveryState;
  attempts: DeliveryAttempt[];
  event: StripeEvent;
}

export interface WebhookDeliveryOptions {
  url: string;
  secret: string;
  /** Attempts per event, the first included. Default 3. */
  attempts?: number;
  /** Delay before the first retry; doubles for each later one. Default 200 ms. */
  retryDelayMs?: number;
  /** Per-attempt timeout. Default 10 s. */
  timeoutMs?: number;
  /** How long `reorder` collects events before shuffling them. Default 150 ms. */
  reorderWindowMs?: number;
  /** Called once an event has failed every attempt. */
  onFailure?: (entry: EventLogEntry) => void;
  /** Oldest entries are dropped past this. Default 2000. */
  maxLog?: number;
}

/** A shuffled copy that is never the original order (when it has two or more items): reordering is the point. */
export function shuffleDifferent<T>(items: readonly T[], random: () => number = Math.random): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  if (out.length > 1 && out.every((item, i) => item === items[i])) out.reverse();
  return out;
}

interface Entry extends EventLogEntry {
  payload: string;
}

export class WebhookDelivery {
  readonly url: string;
  private readonly secret: string;
  private readonly attemptsPerEvent: number;
  private readonly retryDelayMs: number;
  private readonly timeoutMs: number;
  private readonly reorderWindowMs: number;
  private readonly onFailure?: (entry: EventLogEntry) => void;
  private readonly maxLog: number;

  private readonly entries = new Map<string, Entry>();
  /** Waiting: while paused, or inside the reorder window. */
  private waiting: string[] = [];
  /** Released, sent one at a time in this order by the worker. */
  private ready: string[] = [];
  private working = false;
  private sending = 0;
  private reorderTimer: NodeJS.Timeout | undefined;
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly sleepers = new Set<() => void>();
  private readonly requests = new Set<ClientRequest>();
  private idleWaiters: Array<() => void> = [];
  private stopped = false;
  private current: DeliverySettings = { duplicate: false, delayMs: 0, reorder: false, paused: false, drop: false, dropCustomers: [] };

  constructor(options: WebhookDeliveryOptions) {
    this.url = options.url;
    this.secret = options.secret;
    this.attemptsPerEvent = Math.max(1, options.attempts ?? 3);
    this.retryDelayMs = options.retryDelayMs ?? 200;
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.reorderWindowMs = options.reorderWindowMs ?? 150;
    this.onFailure = options.onFailure;
    this.maxLog = options.maxLog ?? 2000;
  }

  settings(): DeliverySettings {
    return { ...this.current, dropCustomers: [...this.current.dropCustomers] };
  }

  /** Whether every endpoint got the event: Stripe's `delivery_success` (a queued or retrying event is not yet a success). */
  delivered(id: string): boolean {
    return this.entries.get(id)?.state === 'delivered';
  }

  configure(change: Partial<DeliverySettings>): DeliverySettings {
    if (change.delayMs !== undefined && (!Number.isFinite(change.delayMs) || change.delayMs < 0)) {
      throw new RangeError('delayMs must be a number >= 0');
    }
    this.current = { ...this.current, ...Object.fromEntries(Object.entries(change).filter(([, v]) => v !== undefined)) };
    if (!this.current.reorder && this.reorderTimer) {
      clearTimeout(this.reorderTimer);
      this.reorderTimer = undefined;
    }
    this.pump();
    return this.settings();
  }

  /** Logs an event and queues its delivery. */
  publish(event: StripeEvent): EventLogEntry {
    const entry: Entry = {
      id: event.id,
      type: event.type,
      created: event.created,
      objectId: typeof event.data.object.id === 'string' ? event.data.object.id : null,
      state: 'queued',
      attempts: [],
      event,
      payload: JSON.stringify(event, null, 2),
    };
    this.entries.set(event.id, entry);
    if (this.entries.size > this.maxLog) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
    }
    this.waiting.push(event.id);
    this.pump();
    return this.view(entry);
  }

  /** Sends a logged event again (through the same switches). */
  resend(id: string): EventLogEntry | undefined {
    const entry = this.entries.get(id);
    if (!entry) return undefined;
    entry.state = 'queued';
    this.waiting.push(id);
    this.pump();
    return this.view(entry);
  }

  log(): EventLogEntry[] {
    return [...this.entries.values()].map((e) => this.view(e));
  }

  /**
   * Sends everything waiting now (even while paused; new events stay paused)
   * and resolves once nothing is in flight or scheduled, retries included.
   */
  async flush(): Promise<{ delivered: number; failed: number; pending: number }> {
    if (this.reorderTimer) {
      clearTimeout(this.reorderTimer);
      this.reorderTimer = undefined;
    }
    this.release(this.current.reorder);
    await this.idle();
    const states = [...this.entries.values()].map((e) => e.state);
    return {
      delivered: states.filter((s) => s === 'delivered').length,
      failed: states.filter((s) => s === 'failed').length,
      pending: states.filter((s) => s === 'queued' || s === 'delivering' || s === 'retrying').length,
    };
  }

  /** Resolves when no delivery is running or scheduled (events held by `paused` do not count). */
  idle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  stop(): void {
    this.stopped = true;
    if (this.reorderTimer) clearTimeout(this.reorderTimer);
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    for (const wake of this.sleepers) wake();
    for (const req of this.requests) req.destroy();
    this.waiting = [];
    this.ready = [];
    this.settleIdle(true);
  }

  private view(entry: Entry): EventLogEntry {
    const { payload: _payload, ...rest } = entry;
    return { ...rest, attempts: [...rest.attempts] };
  }

  private isIdle(): boolean {
    const held = this.current.paused ? 0 : this.waiting.length;
    return !this.working && this.ready.length === 0 && this.sending === 0 && this.timers.size === 0 && !this.reorderTimer && held === 0;
  }

  private settleIdle(force = false): void {
    if (!force && !this.isIdle()) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }

  private pump(): void {
    if (this.stopped || this.current.paused || this.waiting.length === 0) {
      this.settleIdle();
      return;
    }
    if (this.current.reorder) {
      this.reorderTimer ??= setTimeout(() => {
        this.reorderTimer = undefined;
        this.release(true);
      }, this.reorderWindowMs);
      return;
    }
    this.release(false);
  }

  private release(shuffle: boolean): void {
    const batch = this.waiting.splice(0);
    this.ready.push(...(shuffle ? shuffleDifferent(batch) : batch));
    void this.work();
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.sleepers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.sleepers.add(wake);
    });
  }

  /** One worker sends first attempts in order; retries run beside it on timers. */
  private async work(): Promise<void> {
    if (this.working) return;
    this.working = true;
    try {
      while (this.ready.length > 0 && !this.stopped) {
        const id = this.ready.shift() as string;
        if (this.current.delayMs > 0) await this.sleep(this.current.delayMs);
        if (this.stopped) break;
        if (this.dropped(id)) continue;
        await this.attempt(id, 1);
        if (this.current.duplicate && !this.stopped) await this.send(id, true);
      }
    } finally {
      this.working = false;
      this.settleIdle();
    }
  }

  /** A dropped event fails at once, with no request sent. */
  private dropped(id: string): boolean {
    const entry = this.entries.get(id);
    if (!entry) return false;
    const object = entry.event.data.object;
    const customer = object.object === 'customer' ? object.id : typeof object.customer === 'string' ? object.customer : object.customer?.id;
    if (!this.current.drop && !this.current.dropCustomers.includes(customer)) return false;
    entry.attempts.push({ at: new Date().toISOString(), status: null, error: 'dropped by the delivery switch (drop)', durationMs: 0 });
    entry.state = 'failed';
    this.onFailure?.(this.view(entry));
    return true;
  }

  private async attempt(id: string, n: number): Promise<void> {
    const entry = this.entries.get(id);
    if (!entry || this.stopped) return;
    if (entry.state !== 'delivered') entry.state = 'delivering';
    const ok = await this.send(id, false);
    if (this.stopped) return;
    if (ok) {
      entry.state = 'delivered';
    } else if (n < this.attemptsPerEvent) {
      entry.state = 'retrying';
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        void this.attempt(id, n + 1).finally(() => this.settleIdle());
      }, this.retryDelayMs * 2 ** (n - 1));
      this.timers.add(timer);
    } else if (entry.state !== 'delivered') {
      entry.state = 'failed';
      this.onFailure?.(this.view(entry));
    }
  }

  private async send(id: string, duplicate: boolean): Promise<boolean> {
    const entry = this.entries.get(id);
    if (!entry) return false;
    this.sending += 1;
    const started = Date.now();
    try {
      const result = await this.post(entry.payload);
      entry.attempts.push({
        at: new Date(started).toISOString(),
        status: result.status,
        ...(result.error ? { error: result.error } : {}),
        ...(result.response ? { response: result.response } : {}),
        durationMs: Date.now() - started,
        ...(duplicate ? { duplicate: true } : {}),
      });
      return result.status !== null && result.status >= 200 && result.status < 300;
    } finally {
      this.sending -= 1;
    }
  }

  private post(payload: string): Promise<{ status: number | null; error?: string; response?: string }> {
    return new Promise((resolve) => {
      let target: URL;
      try {
        target = new URL(this.url);
      } catch {
        resolve({ status: null, error: `invalid webhook URL ${this.url}` });
        return;
      }
      const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
      const req = send(
        target,
        {
          method: 'POST',
          // A new connection per delivery: nothing stays open after stop().
          agent: false,
          timeout: this.timeoutMs,
          headers: {
            'Content-Type': 'application/json; charset=utf-8',
            'Content-Length': Buffer.byteLength(payload),
            'User-Agent': 'Stripe/1.0 (+https://stripe.com/docs/webhooks)',
            'Cache-Control': 'no-cache',
            Accept: '*/*; q=0.5, application/xml',
            'Stripe-Signature': stripeSignatureHeader(payload, this.secret),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (chunk: Buffer) => {
            if (size < 500) chunks.push(chunk);
            size += chunk.length;
          });
          res.on('end', () => resolve({ status: res.statusCode ?? null, response: Buffer.concat(chunks).toString('utf8').slice(0, 500) || undefined }));
          res.on('error', (err) => resolve({ status: null, error: err.message }));
        },
      );
      this.requests.add(req);
      req.on('close', () => this.requests.delete(req));
      req.on('timeout', () => req.destroy(new Error(`timed out after ${this.timeoutMs} ms`)));
      req.on('error', (err) => resolve({ status: null, error: err.message }));
      req.end(payload);
    });
  }
}
