/**
 * The HTTP core every local server shares (the gateway, the Lambda Invoke
 * endpoint, the queue, the Stripe and STS emulators), like moto's
 * `core/responses.py`: body reading with a size limit, listen and close,
 * and, for the emulators, one fault injector, one call recorder and one
 * control API (like `moto_api`):
 *
 *   GET  /_emulator/calls[?field=value]  recorded calls, oldest first: {total, counts, calls}
 *   POST /_emulator/calls/reset          forget them (answers what was recorded)
 *   POST /_emulator/faults {method?, path?, status, count?, hangMs?, code?}
 *                                        the next `count` matching calls fail or hang
 *   POST /_emulator/faults/reset         disarm every fault: {removed}
 *
 * Emulators add their own routes under `/_emulator/` (Stripe's customer and
 * clock actions). Control errors are `{error: {type, message, param?}}`.
 */
import { createServer, type IncomingMessage, type RequestListener, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

// ------------------------------------------------------------------ requests and answers

/** The body, or undefined once it passes `limit` bytes (the caller answers 413). */
export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) return undefined;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

export function sendText(res: ServerResponse, status: number, contentType: string, text: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

/** Indented, as Stripe's API and a person reading curl output expect. */
export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  sendText(res, status, 'application/json', `${JSON.stringify(body, null, 2)}\n`, headers);
}

export const header = (req: IncomingMessage, name: string): string | undefined => {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
};

// ------------------------------------------------------------------ servers

/** Requests held by a `hang` fault, per server, so closing the server releases them. */
const heldRequests = new WeakMap<Server, Set<NodeJS.Timeout>>();

export function createLocalServer(listener: RequestListener): Server {
  const server = createServer(listener);
  // Idle keep-alive sockets must not keep a stopping process (or jest) alive.
  server.keepAliveTimeout = 1000;
  heldRequests.set(server, new Set());
  return server;
}

/** Listens on loopback (`port` 0: an ephemeral one) and answers the port it got. */
export function listen(server: Server, port: number, host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

export function close(server: Server): Promise<void> {
  return new Promise((resolve) => {
    const held = heldRequests.get(server);
    for (const timer of held ?? []) clearTimeout(timer);
    held?.clear();
    server.close(() => resolve());
    server.closeAllConnections?.();
  });
}

/** No answer, so the caller's timeout fires; the connection drops after `ms` (or when the server closes). */
export function hang(server: Server, req: IncomingMessage, res: ServerResponse, ms: number): void {
  const held = heldRequests.get(server) ?? new Set<NodeJS.Timeout>();
  const timer = setTimeout(() => {
    held.delete(timer);
    req.socket.destroy();
  }, ms);
  held.add(timer);
  res.on('close', () => {
    clearTimeout(timer);
    held.delete(timer);
  });
  req.resume();
}

// ------------------------------------------------------------------ fault injection

/**
 * The next `count` requests whose method and path match fail with `status`
 * (in the emulator's own error shape, with `code` when given) or hang without
 * an answer so the caller's timeout fires. `path` is a regular expression
 * tested against the URL path without the query, e.g. `^/v1/customers$`;
 * without it every request matches (STS has one path, `/`).
 */
export type FaultStatus = 'hang' | 429 | 500 | 502 | 503;

export interface FaultSpec {
  /** HTTP method, or '*' / omitted for any. */
  method?: string;
  /** Regular expression over the path; omitted for any. */
  path?: string;
  status: FaultStatus;
  /** How many matching requests fail. Default 1. */
  count?: number;
  /** For 'hang': how long to hold the request before dropping the connection. Default 60 s. */
  hangMs?: number;
  /** The error code answered (STS's `<Code>`, Stripe's `error.code`); default: the emulator's own for the status. */
  code?: string;
}

export interface Fault {
  id: number;
  method: string;
  path: string;
  status: FaultStatus;
  remaining: number;
  hangMs: number;
  code?: string;
}

const FAULT_STATUSES: readonly FaultStatus[] = ['hang', 429, 500, 502, 503];

export class FaultInjector {
  private faults: Array<Fault & { pattern: RegExp }> = [];
  private nextId = 1;

  /** Validates and adds a fault; throws a RangeError naming the bad field. */
  add(spec: FaultSpec): Fault {
    const status = (typeof spec.status === 'string' && /^\d+$/.test(spec.status) ? Number(spec.status) : spec.status) as FaultStatus;
    if (!FAULT_STATUSES.includes(status)) throw new RangeError(`status must be one of ${FAULT_STATUSES.join(', ')}`);
    const path = spec.path ?? '';
    if (spec.path !== undefined && (typeof spec.path !== 'string' || !spec.path)) throw new RangeError('path, when given, must be a non-empty regular expression');
    let pattern: RegExp;
    try {
      pattern = new RegExp(path);
    } catch (err) {
      throw new RangeError(`path is not a valid regular expression: ${(err as Error).message}`);
    }
    const count = spec.count === undefined ? 1 : Number(spec.count);
    if (!Number.isInteger(count) || count < 1) throw new RangeError('count must be a positive integer');
    const hangMs = spec.hangMs === undefined ? 60_000 : Number(spec.hangMs);
    if (!Number.isFinite(hangMs) || hangMs < 0) throw new RangeError('hangMs must be a number >= 0');
    if (spec.code !== undefined && (typeof spec.code !== 'string' || !spec.code)) throw new RangeError('code, when given, must be a non-empty string');
    const fault = { id: this.nextId++, method: (spec.method || '*').toUpperCase(), path, status, remaining: count, hangMs, code: spec.code, pattern };
    this.faults.push(fault);
    return this.view(fault);
  }

  /** The first armed fault for this request, used up by one; undefined when none matches. */
  take(method: string, path: string): Fault | undefined {
    const fault = this.faults.find((f) => f.remaining > 0 && (f.method === '*' || f.method === method.toUpperCase()) && f.pattern.test(path));
    if (!fault) return undefined;
    fault.remaining -= 1;
    if (fault.remaining === 0) this.faults = this.faults.filter((f) => f !== fault);
    return this.view(fault);
  }

  list(): Fault[] {
    return this.faults.map((f) => this.view(f));
  }

  reset(): number {
    const n = this.faults.length;
    this.faults = [];
    return n;
  }

  private view(f: Fault): Fault {
    return { id: f.id, method: f.method, path: f.path, status: f.status, remaining: f.remaining, hangMs: f.hangMs, ...(f.code === undefined ? {} : { code: f.code }) };
  }
}

// ------------------------------------------------------------------ call recording

export interface CallLog<Call> {
  total: number;
  /** Calls by operation (`"POST /v1/customers/:id": 2`, `"AssumeRole": 1`). */
  counts: Record<string, number>;
  /** Oldest first. */
  calls: Call[];
}

/** A long-running `npm run local` must not grow without bound; tests reset far more often than this. */
const MAX_RECORDED_CALLS = 10_000;

export class CallRecorder<Call extends object> {
  private recorded: Call[] = [];

  constructor(private readonly operationOf: (call: Call) => string) {}

  record(call: Call): void {
    this.recorded.push(call);
    if (this.recorded.length > MAX_RECORDED_CALLS) this.recorded.shift();
  }

  /** The calls whose fields equal every given value (`?sourceIdentity=u-1`). */
  log(filter: Record<string, string> = {}): CallLog<Call> {
    const calls = this.recorded.filter((call) => Object.entries(filter).every(([k, v]) => String((call as Record<string, unknown>)[k]) === v));
    const counts = new Map<string, number>();
    for (const call of calls) counts.set(this.operationOf(call), (counts.get(this.operationOf(call)) ?? 0) + 1);
    return { total: calls.length, counts: Object.fromEntries([...counts].sort(([a], [b]) => a.localeCompare(b))), calls };
  }

  reset(): CallLog<Call> {
    const before = this.log();
    this.recorded = [];
    return before;
  }
}

// ------------------------------------------------------------------ the control API

/** What every emulator's control API does, in-process or over HTTP (`EmulatorControl`). */
export interface EmulatorControlApi<Call> {
  calls(filter?: Record<string, string>): Promise<CallLog<Call>>;
  resetCalls(): Promise<CallLog<Call>>;
  fault(spec: FaultSpec): Promise<Fault>;
  resetFaults(): Promise<{ removed: number }>;
}

export class ControlError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly param?: string,
  ) {
    super(message);
    this.name = 'ControlError';
  }

  toBody() {
    return { error: { type: 'invalid_request_error', message: this.message, ...(this.param ? { param: this.param } : {}) } };
  }
}

/** The in-process side of the shared control API, over an emulator's injector and recorder. */
export function emulatorControl<Call extends object>(faults: FaultInjector, recorder: CallRecorder<Call>): EmulatorControlApi<Call> {
  return {
    calls: async (filter) => recorder.log(filter),
    resetCalls: async () => recorder.reset(),
    async fault(spec) {
      try {
        return faults.add(spec);
      } catch (err) {
        throw new ControlError(400, (err as Error).message);
      }
    },
    resetFaults: async () => ({ removed: faults.reset() }),
  };
}

export type ControlBody = Record<string, any>;

export interface ControlRoute {
  method: 'GET' | 'POST';
  /** Over the path after `/_emulator/`, without slashes at either end. */
  path: RegExp;
  run(match: RegExpExecArray, body: ControlBody, query: URLSearchParams): Promise<unknown>;
}

export function sharedControlRoutes(control: EmulatorControlApi<unknown>): ControlRoute[] {
  return [
    { method: 'GET', path: /^calls$/, run: (_m, _b, query) => control.calls(Object.fromEntries(query)) },
    { method: 'POST', path: /^calls\/reset$/, run: () => control.resetCalls() },
    { method: 'POST', path: /^faults$/, run: (_m, body) => control.fault(body as FaultSpec) },
    { method: 'POST', path: /^faults\/reset$/, run: () => control.resetFaults() },
  ];
}

/** `GET /_emulator/subscriptions/:id/advance`-style listing of the routes, for people. */
export const describeControlRoute = (route: ControlRoute) =>
  `${route.method} /_emulator/${route.path.source.replace(/^\^|\$$/g, '').replace(/\(\[\^\/\]\+\)/g, ':id').replace(/\\\//g, '/')}`;

export interface ControlServerOptions {
  maxBodyBytes: number;
  /** Bodies that are not JSON (HTML forms): parsed by this, or refused. */
  parseForm?: (raw: string) => ControlBody;
  /** An emulator's own errors as control answers; undefined: not one of them (a 500). */
  errorOf?: (err: unknown) => { status: number; body: unknown } | undefined;
  /** After a route posted from an HTML form: answer a redirect instead of JSON. */
  afterForm?: (res: ServerResponse, sub: string, body: ControlBody, result: unknown) => boolean;
  /** For the stderr line of an unexpected failure. */
  name: string;
}

/** Serves `/_emulator/*` from `routes`: JSON (or form) bodies, 404/405 for unknown routes, errors in one shape. */
export async function serveControl(req: IncomingMessage, res: ServerResponse, url: URL, routes: ControlRoute[], options: ControlServerOptions): Promise<void> {
  const method = (req.method ?? 'GET').toUpperCase();
  const sub = url.pathname.replace(/^\/_emulator\/?/, '').replace(/\/+$/, '');
  const fail = (err: ControlError) => sendJson(res, err.status, err.toBody());
  let body: ControlBody = {};
  let fromForm = false;
  if (method === 'POST') {
    const raw = (await readBody(req, options.maxBodyBytes))?.toString('utf8');
    if (raw === undefined) return fail(new ControlError(413, 'Request body too large.'));
    if (raw.trim()) {
      if (/json/i.test(header(req, 'content-type') ?? 'application/json') || !options.parseForm) {
        try {
          body = JSON.parse(raw) as ControlBody;
        } catch {
          return fail(new ControlError(400, 'Body is not valid JSON.'));
        }
        if (typeof body !== 'object' || body === null || Array.isArray(body)) return fail(new ControlError(400, 'Body must be a JSON object.'));
      } else {
        try {
          body = options.parseForm(raw);
          fromForm = true;
        } catch (err) {
          return fail(new ControlError(400, (err as Error).message));
        }
      }
    }
  }
  const route = routes.find((r) => r.method === method && r.path.test(sub));
  if (!route) {
    const known = routes.some((r) => r.path.test(sub));
    return fail(new ControlError(known ? 405 : 404, `${known ? 'Method not allowed' : 'Unknown control endpoint'}: ${method} ${url.pathname}`));
  }
  try {
    const result = await route.run(route.path.exec(sub) as RegExpExecArray, body, url.searchParams);
    if (fromForm && options.afterForm?.(res, sub, body, result)) return;
    sendJson(res, 200, result);
  } catch (err) {
    if (err instanceof ControlError) return fail(err);
    const known = options.errorOf?.(err);
    if (known) return sendJson(res, known.status, known.body);
    process.stderr.write(`[${options.name}] control ${method} ${sub} failed: ${(err as Error).stack ?? String(err)}\n`);
    sendJson(res, 500, { error: { type: 'api_error', message: `The ${options.name} failed; see its stderr.` } });
  }
}

/** The typed HTTP client of an emulator's control API (tests, `npm run stripe`). */
export class EmulatorControl<Call> implements EmulatorControlApi<Call> {
  readonly url: string;

  /** `url`: the emulator's base URL (`services.stripe` / `services.sts` in `.local/stack.json`). */
  constructor(url: string) {
    this.url = url.replace(/\/+$/, '');
  }

  /** One control call; throws an `EmulatorControlError` with the emulator's message when it is refused. */
  async request<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
    let res: Response;
    try {
      res = await fetch(`${this.url}/_emulator${path}`, {
        method,
        headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (err) {
      throw new EmulatorControlError(0, `Emulator not reachable at ${this.url}: ${(err as Error).message}`);
    }
    const text = await res.text();
    let json: any;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      json = null;
    }
    if (!res.ok) throw new EmulatorControlError(res.status, json?.error?.message ?? `${res.status} ${text.slice(0, 200)}`);
    return json as T;
  }

  calls(filter: Record<string, string> = {}) {
    const query = new URLSearchParams(filter).toString();
    return this.request<CallLog<Call>>('GET', `/calls${query ? `?${query}` : ''}`);
  }
  resetCalls() {
    return this.request<CallLog<Call>>('POST', '/calls/reset', {});
  }
  fault(spec: FaultSpec) {
    return this.request<Fault>('POST', '/faults', spec);
  }
  resetFaults() {
    return this.request<{ removed: number }>('POST', '/faults/reset', {});
  }
}

export class EmulatorControlError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'EmulatorControlError';
  }
}
