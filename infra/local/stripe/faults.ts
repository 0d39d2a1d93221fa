/**
 * Fault injection for the emulated API: the next `count` requests whose
 * method and path match answer 500 (Stripe's `api_error`, which stripe-node
 * retries when maxNetworkRetries > 0) or 429, or hang without an answer so the
 * caller's timeout fires. Paths are regular expressions tested against the
 * URL path without the query, e.g. `^/v1/customers$` or `/v1/subscriptions/`.
 */
export type FaultStatus = 'hang' | 429 | 500 | 502 | 503;

export interface FaultSpec {
  /** HTTP method, or '*' / omitted for any. */
  method?: string;
  /** Regular expression over the path. */
  path: string;
  status: FaultStatus;
  /** How many matching requests fail. Default 1. */
  count?: number;
  /** For 'hang': how long to hold the request before dropping the connection. Default 60 s. */
  hangMs?: number;
}

export interface Fault {
  id: number;
  method: string;
  path: string;
  status: FaultStatus;
  remaining: number;
  hangMs: number;
}

const STATUSES: readonly FaultStatus[] = ['hang', 429, 500, 502, 503];

export class FaultInjector {
  private faults: Array<Fault & { pattern: RegExp }> = [];
  private nextId = 1;

  /** Validates and adds a fault; throws a RangeError naming the bad field. */
  add(spec: FaultSpec): Fault {
    const status = (typeof spec.status === 'string' && /^\d+$/.test(spec.status) ? Number(spec.status) : spec.status) as FaultStatus;
    if (!STATUSES.includes(status)) throw new RangeError(`status must be one of ${STATUSES.join(', ')}`);
    if (typeof spec.path !== 'string' || !spec.path) throw new RangeError('path (a regular expression) is required');
    let pattern: RegExp;
    try {
      pattern = new RegExp(spec.path);
    } catch (err) {
      throw new RangeError(`path is not a valid regular expression: ${(err as Error).message}`);
    }
    const count = spec.count === undefined ? 1 : Number(spec.count);
    if (!Number.isInteger(count) || count < 1) throw new RangeError('count must be a positive integer');
    const hangMs = spec.hangMs === undefined ? 60_000 : Number(spec.hangMs);
    if (!Number.isFinite(hangMs) || hangMs < 0) throw new RangeError('hangMs must be a number >= 0');
    const fault = { id: this.nextId++, method: (spec.method || '*').toUpperCase(), path: spec.path, status, remaining: count, hangMs, pattern };
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
    return { id: f.id, method: f.method, path: f.path, status: f.status, remaining: f.remaining, hangMs: f.hangMs };
  }
}
