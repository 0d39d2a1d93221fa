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

export type ReconcileMetric =
  /** Reconciliation found a row that differed from Stripe or Cognito and repaired it (a lost webhook, a missed deletion). */
  | 'ReconcileRepairs'
  /** Reconciliation could not check or repair one customer or event (it is tried again on the next run). */
  | 'ReconcileFailures';

/** Counts reconciliation outcomes, published at once like the anomalies (a run may end in a timeout). */
export function countReconcile(name: ReconcileMetric, count = 1): void {
  metrics.addMetric(name, MetricUnit.Count, count);
  metrics.publishStoredMetrics();
}
