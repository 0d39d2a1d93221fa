import { countMetric } from '../../observability/metrics';
/**
 * A circuit breaker for an optional dependency (the cache). While it is
 * closed, calls go through and consecutive failures are counted; after
 * `failureThreshold` of them it opens and calls are refused at once, so
 * requests stop paying the dependency's timeout. After `cooldownMs` it is
 * half-open: exactly one call (the probe) goes through; its success closes
 * the breaker, its failure opens it for another cooldown.
 */
export type BreakerState = 'closed' | 'open' | 'half-open';

export interface CircuitBreakerOptions {
  failureThreshold: number;
  cooldownMs: number;
  /** Epoch ms; injectable for tests (jest's fake timers also fake Date.now). */
  now?: () => number;
  onStateChange?: (to: BreakerState, from: BreakerState) => void;
}

export class CircuitOpenError extends Error {
  constructor() {
    super('circuit breaker is open');
    this.name = 'CircuitOpenError';
  }
}

export class CircuitBreaker {
  private current: BreakerState = 'closed';
  private failures = 0;
  private openedAt = 0;
  private probeInFlight = false;
  private readonly now: () => number;

  constructor(private readonly options: CircuitBreakerOptions) {
    if (!(options.failureThreshold >= 1)) throw new Error('failureThreshold must be at least 1');
    if (!(options.cooldownMs >= 0)) throw new Error('cooldownMs must not be negative');
    this.now = options.now ?? Date.now;
  }

  /** The state as of now: an open breaker whose cooldown is over reads as half-open. */
  get state(): BreakerState {
    if (this.current === 'open' && this.now() - this.openedAt >= this.options.cooldownMs) return 'half-open';
    return this.current;
  }

  /** Consecutive failures counted while closed. */
  get consecutiveFailures(): number {
    return this.failures;
  }

  /**
   * Whether a call may go to the dependency now. In half-open, the first
   * caller becomes the probe and everyone else is refused until it reports.
   * A caller that is allowed MUST report `recordSuccess` or `recordFailure`.
   */
  tryAcquire(): boolean {
    const state = this.state;
    if (state === 'closed') return true;
    if (state === 'open') return false;
    if (this.probeInFlight) return false;
    if (this.current !== 'half-open') this.transition('half-open');
    this.probeInFlight = true;
    return true;
  }

  recordSuccess(): void {
    this.failures = 0;
    this.probeInFlight = false;
    if (this.current !== 'closed') this.transition('closed');
  }

  recordFailure(): void {
    if (this.current === 'half-open') {
      this.probeInFlight = false;
      this.open();
      return;
    }
    if (this.current === 'open') return; // a straggler from before the breaker opened
    this.failures += 1;
    if (this.failures >= this.options.failureThreshold) this.open();
  }

  /** Runs `call` through the breaker: refused with CircuitOpenError while open. */
  execute<T>(call: () => Promise<T>): Promise<T> {
    if (!this.tryAcquire()) return Promise.reject(new CircuitOpenError());
    let pending: Promise<T>;
    try {
      pending = call();
    } catch (err) {
      this.recordFailure();
      return Promise.reject(err);
    }
    return pending.then(
      (value) => {
        this.recordSuccess();
        return value;
      },
      (err: unknown) => {
        this.recordFailure();
        throw err;
      },
    );
  }

  private open(): void {
    this.openedAt = this.now();
    this.failures = 0;
    if (this.current !== 'open') this.transition('open');
  }

  private transition(to: BreakerState): void {
    const from = this.current;
    this.current = to;
    if (to === 'open') countMetric('CircuitBreakerOpened');
    this.options.onStateChange?.(to, from);
  }
}
