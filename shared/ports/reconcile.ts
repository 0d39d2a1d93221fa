/** A Stripe event whose delivery to our webhook has not succeeded (Stripe's `delivery_success=false`: failed or still retrying). */
export interface UndeliveredEvent {
  id: string;
  type: string;
  /** Epoch seconds. */
  created: number;
  data: { object: Record<string, unknown> };
}

/** Stripe's event log, read for the deliveries it could not make. */
export interface UndeliveredStripeEvents {
  /** Newest first, created from `createdFrom` to `createdTo` (epoch seconds, both included); `next` continues after the page's last event. */
  page(input: { createdFrom: number; createdTo: number; after?: string; limit: number }): Promise<{ events: UndeliveredEvent[]; next?: string }>;
}

/** A live user with a Stripe customer whose entitlement row holds a status other than `none`. */
export interface Subscriber {
  userId: string;
  customerId: string;
}

/** The subscribers, page by page (a sweep, not a request path: a Scan). */
export interface SubscribedUsers {
  /** `next` continues after the page (a user id); absent at the end. A page may hold fewer than `limit`, even none. */
  page(input: { after?: string; limit: number }): Promise<{ subscribers: Subscriber[]; next?: string }>;
}

/** The parts of a reconcile run that keep progress between runs. */
export type ReconcileSweep = 'failed-deliveries' | 'subscribers' | 'identities';

/**
 * Where a sweep stands. `cursor`: where a run cut short by its budget stopped
 * (the next run resumes there). `highWaterMark` (failed deliveries, epoch
 * seconds): the newest event already handled; `pendingHighWaterMark` becomes
 * it once the interrupted listing is finished.
 */
export interface ReconcileProgress {
  cursor?: string;
  highWaterMark?: number;
  pendingHighWaterMark?: number;
}

export interface ReconcileProgressStore {
  get(sweep: ReconcileSweep): Promise<ReconcileProgress>;
  /** Called only when the progress changed, so a run that finds nothing to do writes nothing. */
  save(sweep: ReconcileSweep, progress: ReconcileProgress): Promise<void>;
}
