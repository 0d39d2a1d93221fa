import { createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { close, createLocalServer, listen, readBody, sendJson } from './http';

/**
 * The local stand-in for the EventBridge bus of entitlement.changed. It
 * speaks the part of the EventBridge JSON protocol PutEvents uses (so the
 * publisher's adapter runs unchanged, pointed here by EVENTBRIDGE_ENDPOINT),
 * keeps the last events for `npm run events` (GET /events), and, when a
 * webhook URL is set (EVENTS_WEBHOOK_URL, or PUT /webhook), POSTs each
 * event's detail there as JSON, signed like Stripe's webhooks:
 *
 *   Entitlements-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>
 *
 * A delivery that fails is retried a few times with back-off, then logged and
 * dropped (on AWS the API destination's dead-letter queue keeps it).
 */
export const SIGNATURE_HEADER = 'entitlements-signature';

export function signEventsWebhook(secret: string, body: string, timestamp = Math.floor(Date.now() / 1000)): string {
  return `t=${timestamp},v1=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

/** True when `header` signs `body` with `secret` and is at most `toleranceSeconds` old. */
export function verifyEventsWebhook(secret: string, body: string, header: string | undefined, toleranceSeconds = 300, now = Date.now()): boolean {
  const parts = Object.fromEntries((header ?? '').split(',').map((kv) => kv.split('=', 2) as [string, string]));
  const timestamp = Number(parts.t);
  if (!Number.isInteger(timestamp) || !parts.v1 || Math.abs(now / 1000 - timestamp) > toleranceSeconds) return false;
  const expected = Buffer.from(signEventsWebhook(secret, body, timestamp).split('v1=')[1] ?? '', 'utf8');
  const given = Buffer.from(parts.v1, 'utf8');
  return expected.length === given.length && timingSafeEqual(expected, given);
}

export interface BusEvent {
  id: string;
  time: string;
  source: string;
  detailType: string;
  busName: string;
  detail: unknown;
}

export interface LocalEventBus {
  endpoint: string;
  busName: string;
  webhookSecret: string;
  stop(): Promise<void>;
}

export interface LocalEventBusOptions {
  port: number;
  busName: string;
  webhookUrl?: string;
  webhookSecret?: string;
  /** Events kept for GET /events. */
  keep?: number;
  deliveryAttempts?: number;
}

const MAX_REQUEST_BYTES = 1024 * 1024;

function awsError(res: ServerResponse, status: number, type: string, message: string): void {
  sendJson(res, status, { __type: type, message });
}

export async function startLocalEventBus(options: LocalEventBusOptions): Promise<LocalEventBus> {
  const keep = options.keep ?? 200;
  const attempts = options.deliveryAttempts ?? 4;
  const webhookSecret = options.webhookSecret ?? `whsec_local_${randomBytes(24).toString('base64url')}`;
  let webhookUrl = options.webhookUrl;
  const recent: BusEvent[] = [];
  const timers = new Set<NodeJS.Timeout>();
  let stopped = false;

  const deliver = (event: BusEvent, attempt: number) => {
    const url = webhookUrl;
    if (!url || stopped) return;
    const body = JSON.stringify(event.detail);
    void fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', [SIGNATURE_HEADER]: signEventsWebhook(webhookSecret, body) },
      body,
      signal: AbortSignal.timeout(5000),
    })
      .then((res) => {
        if (!res.ok) throw new Error(`HTTP ${res.status}`);
      })
      .catch((err: Error) => {
        if (attempt >= attempts) {
          process.stderr.write(`[event bus] ${event.id} not delivered to ${url} after ${attempt} attempts: ${err.message}\n`);
          return;
        }
        const timer = setTimeout(() => {
          timers.delete(timer);
          deliver(event, attempt + 1);
        }, 200 * 2 ** attempt);
        timers.add(timer);
      });
  };

  const putEvents = (input: { Entries?: Array<Record<string, unknown>> }, res: ServerResponse) => {
    const entries = input.Entries ?? [];
    if (entries.length === 0 || entries.length > 10) return awsError(res, 400, 'ValidationException', 'Entries must hold 1 to 10 entries');
    const results = entries.map((entry) => {
      if (entry.EventBusName !== options.busName) return { ErrorCode: 'ResourceNotFoundException', ErrorMessage: `Event bus ${String(entry.EventBusName)} does not exist.` };
      let detail: unknown;
      try {
        detail = JSON.parse(String(entry.Detail));
      } catch {
        return { ErrorCode: 'MalformedDetail', ErrorMessage: 'Detail is malformed.' };
      }
      const time = typeof entry.Time === 'number' ? new Date(entry.Time * 1000) : new Date();
      const event: BusEvent = { id: randomUUID(), time: time.toISOString(), source: String(entry.Source), detailType: String(entry.DetailType), busName: options.busName, detail };
      recent.push(event);
      if (recent.length > keep) recent.shift();
      deliver(event, 1);
      return { EventId: event.id };
    });
    sendJson(res, 200, { FailedEntryCount: results.filter((r) => 'ErrorCode' in r).length, Entries: results });
  };

  const control = async (req: IncomingMessage, res: ServerResponse, url: URL) => {
    if (req.method === 'GET' && url.pathname === '/events') {
      const limit = Math.max(1, Math.min(keep, Number(url.searchParams.get('limit') ?? keep) || keep));
      return sendJson(res, 200, { webhookUrl: webhookUrl ?? null, events: recent.slice(-limit) });
    }
    if (req.method === 'PUT' && url.pathname === '/webhook') {
      const body = JSON.parse((await readBody(req, MAX_REQUEST_BYTES))?.toString('utf8') || '{}') as { url?: string | null };
      webhookUrl = body.url ?? undefined;
      return sendJson(res, 200, { webhookUrl: webhookUrl ?? null });
    }
    sendJson(res, 404, { error: { code: 'not_found', message: 'GET /events, PUT /webhook {url}, or PutEvents' } });
  };

  const server: Server = createLocalServer((req, res) => {
    void (async () => {
      try {
        const target = String(req.headers['x-amz-target'] ?? '');
        if (!target) return await control(req, res, new URL(req.url ?? '/', 'http://localhost'));
        if (target !== 'AWSEvents.PutEvents') return awsError(res, 400, 'UnknownOperationException', `${target} is not supported by the local event bus`);
        const body = await readBody(req, MAX_REQUEST_BYTES);
        putEvents(JSON.parse(body?.toString('utf8') || '{}') as { Entries?: Array<Record<string, unknown>> }, res);
      } catch (err) {
        awsError(res, 500, 'InternalException', (err as Error).message);
      }
    })();
  });
  await listen(server, options.port);
  return {
    endpoint: `http://127.0.0.1:${options.port}`,
    busName: options.busName,
    webhookSecret,
    stop: async () => {
      stopped = true;
      for (const timer of timers) clearTimeout(timer);
      await close(server);
    },
  };
}
