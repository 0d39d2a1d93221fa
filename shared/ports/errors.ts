/**
 * Port-level failures: what a use case or the HTTP layer may learn about a
 * dependency without knowing which SDK talks to it. Adapters (the only code
 * that knows AWS, Stripe or Redis) classify their client's errors into these,
 * once, where the client is built or called; the HTTP wrapper maps each type
 * to a status once (shared/http/error-policy.ts). Nothing here is HTTP.
 */

/** The systems the service depends on, as named in logs and metrics. */
export type Dependency = 'dynamodb' | 'redis' | 'stripe' | 'sts' | 'cognito' | 'secrets-manager' | 'sqs' | 'eventbridge';

/**
 * Why a dependency could not be used:
 * - `timeout`: no answer within the client's connect or request timeout (a hung or paused process);
 * - `throttled`: it refused for capacity (DynamoDB throttling, Stripe rate limit);
 * - `unreachable`: no HTTP answer at all (refused, reset, DNS);
 * - `failing`: it answered with a server-side fault (5xx) or a retryable error.
 */
export type DependencyFailure = 'timeout' | 'throttled' | 'unreachable' | 'failing';

/** A dependency could not serve the call. Safe to retry later; nothing the caller sent was wrong. */
export class DependencyUnavailable extends Error {
  constructor(
    readonly dependency: Dependency,
    readonly failure: DependencyFailure,
    options?: { cause?: unknown },
  ) {
    super(`${dependency} unavailable (${failure})`, options);
    this.name = 'DependencyUnavailable';
  }
}

/** The timeout flavour: the dependency accepted the call (or the connection) and never answered in time. */
export class DependencyTimedOut extends DependencyUnavailable {
  constructor(dependency: Dependency, options?: { cause?: unknown }) {
    super(dependency, 'timeout', options);
    this.name = 'DependencyTimedOut';
  }
}

/**
 * Other writers kept winning the same item for longer than a request should
 * wait (optimistic concurrency gave up). Nothing was written; retrying after
 * `retryAfterSeconds` is safe.
 */
export class Contention extends Error {
  readonly retryAfterSeconds: number = 1;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'Contention';
  }
}

/** Builds the right class for a failure kind. */
export function dependencyFailure(dependency: Dependency, failure: DependencyFailure, cause: unknown): DependencyUnavailable {
  return failure === 'timeout' ? new DependencyTimedOut(dependency, { cause }) : new DependencyUnavailable(dependency, failure, { cause });
}
