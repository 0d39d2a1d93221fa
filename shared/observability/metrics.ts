import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';

/**
 * The one metrics emitter (Powertools Metrics: CloudWatch embedded metric
 * format on stdout, no API call). Counts of money/access anomalies operators
 * alarm on; each is logged with its details by the caller as well.
 */
export const metrics = new Metrics({
  namespace: process.env.POWERTOOLS_METRICS_NAMESPACE ?? 'entitlements',
  serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'entitlements',
});

export type AnomalyMetric =
  /** A Stripe customer has more than one subscription granting access (dashboard, race). */
  | 'DuplicateSubscriptions'
  /** A subscription's price is not in the catalogue; the previous tier was kept. */
  | 'UnknownStripePrice'
  /** A refund or dispute took back fewer purchased tokens than it should: they were already spent. */
  | 'TokenClawbackShortfall'
  /** A top-up was paid for a user who is gone or being deleted: money taken, no tokens (refund it). */
  | 'TopUpWithoutLiveUser'
  /** The Ko-fi verification token is unset (empty or the placeholder): every Ko-fi delivery is refused. */
  | 'KofiTokenNotConfigured'
  /** A row stores a plan name the catalogue no longer knows (renamed or removed without an alias): it reads as the default plan. */
  | 'UnknownStoredPlan';

/** Counts of what the service does, for the dashboard and the alarms (infra/constructs/operations.ts). */
export type BusinessMetric =
  | 'WebhookApplied'
  | 'WebhookDuplicate'
  | 'WebhookIgnored'
  | 'WebhookFailed'
  /** Tokens charged (the amount, not the calls). */
  | 'TokensConsumed'
  /** Consumes refused with 402. */
  | 'InsufficientTokens'
  /** Uses of metered catalogue features (the amount). */
  | 'MeteredFeatureUsed'
  /** Metered feature uses refused with 402. */
  | 'MeteredFeatureLimitReached'
  | 'CacheHit'
  | 'CacheMiss'
  | 'CircuitBreakerOpened'
  | 'ReconcileRepairs'
  | 'ReconcileFailures'
  | 'EntitlementEventsPublished'
  | 'EntitlementEventsFailed'
  | AnomalyMetric;

/**
 * Counts per request on the premium check's hot path, for a ratio on the
 * dashboard: summed in memory and published at most once a minute (with the
 * next invocation's flush), so a cache hit pays an addition, not a JSON line.
 * Up to a minute of them is lost if Lambda recycles the environment first;
 * nothing alarms on them.
 */
const WINDOWED: ReadonlySet<BusinessMetric> = new Set<BusinessMetric>(['CacheHit', 'CacheMiss']);
const WINDOW_MS = 60_000;
const windowed = new Map<BusinessMetric, number>();
let windowStartedAt = Date.now();

/**
 * Counts; the count is published (one EMF line on stdout, no API call) when
 * the invocation ends: every handler wrapper calls `flushMetrics` in a
 * `finally` (shared/http/handler.ts for HTTP, the worker, the trigger...),
 * so a request pays one JSON line for all it counted, not one per count.
 */
export function countMetric(name: BusinessMetric, count = 1): void {
  if (count === 0) return;
  if (WINDOWED.has(name)) windowed.set(name, (windowed.get(name) ?? 0) + count);
  else metrics.addMetric(name, MetricUnit.Count, count);
}

/** Publishes what this invocation counted, and the windowed sums once a minute (no "no metrics" warning on quiet invocations). */
export function flushMetrics(now = Date.now()): void {
  if (windowed.size > 0 && (now - windowStartedAt >= WINDOW_MS || metrics.hasStoredMetrics())) {
    for (const [name, count] of windowed) metrics.addMetric(name, MetricUnit.Count, count);
    windowed.clear();
    windowStartedAt = now;
  }
  if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
}

/**
 * An anomaly: counted and published at once. They are rare, and are counted
 * from code that may run outside a handler wrapper (scripts, the local stack).
 */
export function countAnomaly(name: AnomalyMetric, count = 1): void {
  countMetric(name, count);
  flushMetrics();
}
