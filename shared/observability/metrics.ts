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
  /** A subscription's price is not in the tier catalogue; the previous tier was kept. */
  | 'UnknownStripePrice'
  /** A refund or dispute took back fewer purchased tokens than it should: they were already spent. */
  | 'TokenClawbackShortfall'
  /** A top-up was paid for a user who is gone or being deleted: money taken, no tokens (refund it). */
  | 'TopUpWithoutLiveUser';

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
  | 'CacheHit'
  | 'CacheMiss'
  | 'CircuitBreakerOpened'
  | 'ReconcileRepairs'
  | 'ReconcileFailures'
  | 'EntitlementEventsPublished'
  | 'EntitlementEventsFailed'
  | AnomalyMetric;

/**
 * Counts and publishes at once: one EMF line on stdout, no API call, so it
 * costs the hot path a JSON line, and needs no per-handler flush (a metric
 * stored until the end of an invocation is lost when Lambda freezes or
 * recycles the environment first).
 */
export function countMetric(name: BusinessMetric, count = 1): void {
  metrics.addMetric(name, MetricUnit.Count, count);
  metrics.publishStoredMetrics();
}

/** An anomaly: counted like any metric; the name says it is one. */
export function countAnomaly(name: AnomalyMetric, count = 1): void {
  countMetric(name, count);
}
