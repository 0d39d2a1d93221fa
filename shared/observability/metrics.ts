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

/**
 * Counts one anomaly and publishes at once: they are rare, and publishing here
 * needs no per-handler flush (a lost Lambda freeze would drop a stored metric).
 */
export function countAnomaly(name: AnomalyMetric, count = 1): void {
  metrics.addMetric(name, MetricUnit.Count, count);
  metrics.publishStoredMetrics();
}

/** Counts of what the service does (the names agreed for the dashboard and alarms). */
export type OperationMetric =
  | 'EntitlementEventsPublished'
  | 'EntitlementEventsFailed'
  | 'ReconcileRepairs'
  | 'ReconcileFailures'
  | 'WebhookApplied'
  | 'WebhookDuplicate'
  | 'WebhookIgnored'
  | 'WebhookFailed'
  | 'TokensConsumed'
  | 'InsufficientTokens'
  | 'CacheHit'
  | 'CacheMiss'
  | 'CircuitBreakerOpened';

/** Counts an operation's outcome and publishes at once, like countAnomaly (no per-handler flush to forget). */
export function countOperation(name: OperationMetric, count = 1): void {
  if (count === 0) return;
  metrics.addMetric(name, MetricUnit.Count, count);
  metrics.publishStoredMetrics();
}
