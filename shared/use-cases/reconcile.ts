import { failedDeliveriesFrom,
  failedDeliveriesTo, nextCallSlot } from '../domain/reconcile';
import { DependencyUnavailable } from '../ports/errors';
import type { ReconcileProgress, ReconcileProgressStore, ReconcileSweep, SubscribedUsers, UndeliveredStripeEvents } from '../ports/reconcile';
import { logger } from '../observability/logger';
import { countMetric } from '../observability/metrics';
import { reconcileIdentities, type ReconcileIdentitiesDeps } from './reconcile-identities';
import { syncCustomer } from './stripe-sync';
import { handleStripeEvent, type WebhookDeps } from './stripe-webhook';

/** `light`: the failed Stripe deliveries only (frequent); `full`: also every subscribed customer and the identity sweep (daily). */
export type ReconcilePass = 'light' | 'full';
export const RECONCILE_PASSES: readonly ReconcilePass[] = ['light', 'full'];

export interface ReconcileDeps {
  /** The webhook's own dependencies: a repair takes the same path as a delivered event. */
  stripe: WebhookDeps;
  undelivered: UndeliveredStripeEvents;
  subscribers: SubscribedUsers;
  progress: ReconcileProgressStore;
  identities: ReconcileIdentitiesDeps;
  /** Stripe calls started per second at most (RECONCILE_STRIPE_CALLS_PER_SECOND). */
  stripeCallsPerSecond: number;
  /** Items asked for per page of events or users. */
  pageSize: number;
  /** Undelivered events younger than this are still in their first delivery: left to the webhook. */
  inFlightSeconds: number;
  now: () => Date;
  sleep: (ms: number) => Promise<void>;
}

export interface SweepReport {
  checked: number;
  repaired: number;
  failed: number;
  /** False when the deadline (or Stripe refusing) stopped the sweep: the next run resumes from its cursor. */
  complete: boolean;
}

export interface IdentitySweepReport extends SweepReport {
  identityGone: string[];
  stalled: string[];
}

export interface ReconcileReport {
  pass: ReconcilePass;
  failedDeliveries: SweepReport;
  subscribers?: SweepReport;
  identities?: IdentitySweepReport;
}

/**
 * One scheduled run. Primary course:
 * 1. failed deliveries: Stripe's events whose delivery has not succeeded,
 *    newest first down to the stored high-water mark (within Stripe's 30
 *    days), each applied through the webhook's handleStripeEvent (a no-op for
 *    an id already applied);
 * 2. full pass: every live user with a Stripe customer whose row holds a
 *    status other than none, from the stored cursor, re-synced through
 *    syncCustomer (a row that holds Stripe's state is not written);
 * 3. full pass: the identity sweep (profiles whose Cognito user is gone,
 *    stalled deletions), from its cursor.
 * Stripe calls are paced; each sweep stops at the deadline and stores where
 * it stopped, only when that changed. Each repair is logged with its cause and counted.
 */
export async function reconcile(deps: ReconcileDeps, pass: ReconcilePass, deadline: Date): Promise<ReconcileReport> {
  const run = new Run(deps, deadline);
  const failedDeliveries = await replayFailedDeliveries(run);
  if (pass === 'light') return { pass, failedDeliveries };
  // The time left is shared: a sweep that always needs more than a run cannot starve the other.
  const half = new Date(deps.now().getTime() + (deadline.getTime() - deps.now().getTime()) / 2);
  const subscribers = await resyncSubscribers(run.until(half));
  const identities = await sweepIdentities(run);
  return { pass, failedDeliveries, subscribers, identities };
}

/** What the sweeps of one run share: the deadline, the pace of Stripe calls, the error policy. */
class Run {
  private lastCallAt: number | undefined;

  constructor(
    readonly deps: ReconcileDeps,
    readonly deadline: Date,
    private readonly shared?: Run,
  ) {}

  until(deadline: Date): Run {
    return new Run(this.deps, deadline, this);
  }

  outOfTime(): boolean {
    return this.deps.now().getTime() >= this.deadline.getTime();
  }

  async pace(): Promise<void> {
    if (this.shared) return this.shared.pace();
    const slot = nextCallSlot(this.lastCallAt, this.deps.now().getTime(), this.deps.stripeCallsPerSecond);
    this.lastCallAt = slot.at;
    if (slot.waitMs > 0) await this.deps.sleep(slot.waitMs);
  }

  /**
   * Runs the check of one item. A dependency that is down or throttling ends
   * the sweep (`stop`: the item is retried by the next run); any other
   * failure is logged and counted, and the sweep goes on.
   */
  async check(sweep: ReconcileSweep, item: Record<string, unknown>, work: () => Promise<boolean>): Promise<'repaired' | 'ok' | 'failed' | 'stop'> {
    try {
      return (await work()) ? 'repaired' : 'ok';
    } catch (err) {
      if (err instanceof DependencyUnavailable) {
        logger.warn('reconcile stopped: a dependency is unavailable; the next run resumes here', { sweep, ...item, dependency: err.dependency, failure: err.failure });
        return 'stop';
      }
      logger.error('reconcile could not check an item; the next run tries it again', { sweep, ...item, error: err as Error });
      countMetric('ReconcileFailures');
      return 'failed';
    }
  }

  /**
   * The next page of work, or 'stop': out of time (checked per page as well, so a run of
   * pages with nothing to check is bounded too), or Stripe or DynamoDB refusing the page,
   * like an item's refusal (progress kept, the next run resumes).
   */
  async page<T>(sweep: ReconcileSweep, fetch: () => Promise<T>): Promise<T | 'stop'> {
    if (this.outOfTime()) return 'stop';
    try {
      return await fetch();
    } catch (err) {
      if (!(err instanceof DependencyUnavailable)) throw err;
      logger.warn('reconcile stopped: a dependency is unavailable; the next run resumes here', { sweep, dependency: err.dependency, failure: err.failure });
      return 'stop';
    }
  }

  async saveIfChanged(sweep: ReconcileSweep, before: ReconcileProgress, after: ReconcileProgress): Promise<void> {
    const same = before.cursor === after.cursor && before.highWaterMark === after.highWaterMark && before.pendingHighWaterMark === after.pendingHighWaterMark;
    if (!same) await this.deps.progress.save(sweep, after);
  }
}

function repaired(sweep: ReconcileSweep, cause: string, details: Record<string, unknown>): void {
  logger.warn('reconcile repaired drift', { sweep, cause, ...details });
  countMetric('ReconcileRepairs');
}

const newReport = (): SweepReport => ({ checked: 0, repaired: 0, failed: 0, complete: false });

function tally(report: SweepReport, result: 'repaired' | 'ok' | 'failed'): void {
  report.checked += 1;
  if (result === 'repaired') report.repaired += 1;
  if (result === 'failed') report.failed += 1;
}

const minDefined = (a: number | undefined, b: number | undefined) => (a === undefined ? b : b === undefined ? a : Math.min(a, b));
const maxDefined = (a: number | undefined, b: number | undefined) => (a === undefined ? b : b === undefined ? a : Math.max(a, b));

/**
 * The high-water mark is the newest event handled, so a run that finds no new
 * failure writes nothing; an event that could not be applied holds the mark
 * at its creation, so the next run lists it again.
 */
async function replayFailedDeliveries(run: Run): Promise<SweepReport> {
  const { deps } = run;
  const sweep = 'failed-deliveries';
  const report = newReport();
  const stored = await deps.progress.get(sweep);
  const nowSeconds = Math.floor(deps.now().getTime() / 1000);
  const createdFrom = failedDeliveriesFrom(nowSeconds, stored.highWaterMark);
  const createdTo = failedDeliveriesTo(nowSeconds, deps.inFlightSeconds);
  let newest = stored.cursor ? stored.pendingHighWaterMark : stored.highWaterMark;
  let oldestFailed: number | undefined;
  let after = stored.cursor;
  let stopped = false;
  pages: do {
    const page = await run.page(sweep, () => deps.undelivered.page({ createdFrom, createdTo, after, limit: deps.pageSize }));
    if (page === 'stop') {
      stopped = true;
      break;
    }
    for (const event of page.events) {
      if (run.outOfTime()) {
        stopped = true;
        break pages;
      }
      const result = await run.check(sweep, { eventId: event.id, type: event.type }, async () => {
        await run.pace();
        const outcome = await handleStripeEvent(deps.stripe, event);
        if (outcome === 'applied') repaired(sweep, 'Stripe could not deliver this event', { eventId: event.id, type: event.type, created: event.created });
        return outcome === 'applied';
      });
      if (result === 'stop') {
        stopped = true;
        break pages;
      }
      tally(report, result);
      if (result === 'failed') oldestFailed = minDefined(oldestFailed, event.created);
      newest = maxDefined(newest, event.created);
      after = event.id;
    }
    after = page.next;
  } while (after);
  const mark = oldestFailed === undefined ? newest : Math.min(oldestFailed, newest ?? oldestFailed);
  report.complete = !stopped;
  const progress: ReconcileProgress = stopped
    ? { ...(stored.highWaterMark === undefined ? {} : { highWaterMark: stored.highWaterMark }), ...(after ? { cursor: after } : {}), ...(mark === undefined ? {} : { pendingHighWaterMark: mark }) }
    : mark === undefined ? {} : { highWaterMark: mark };
  await run.saveIfChanged(sweep, stored, progress);
  return report;
}

async function resyncSubscribers(run: Run): Promise<SweepReport> {
  const { deps } = run;
  const sweep = 'subscribers';
  const report = newReport();
  const stored = await deps.progress.get(sweep);
  let after = stored.cursor;
  let stopped = false;
  pages: do {
    const page = await run.page(sweep, () => deps.subscribers.page({ after, limit: deps.pageSize }));
    if (page === 'stop') {
      stopped = true;
      break;
    }
    for (const { userId, customerId } of page.subscribers) {
      if (run.outOfTime()) {
        stopped = true;
        break pages;
      }
      const result = await run.check(sweep, { userId, customerId }, async () => {
        await run.pace();
        const outcome = await syncCustomer(deps.stripe, customerId, { kind: 'reconcile' }, userId, { onlyIfDrifted: true });
        if (outcome === 'written') repaired(sweep, "the row differed from Stripe's current state", { userId, customerId });
        return outcome === 'written';
      });
      if (result === 'stop') {
        stopped = true;
        break pages;
      }
      tally(report, result);
      after = userId;
    }
    after = page.next;
  } while (after);
  report.complete = !stopped;
  await run.saveIfChanged(sweep, stored, stopped && after ? { cursor: after } : {});
  return report;
}

async function sweepIdentities(run: Run): Promise<IdentitySweepReport> {
  const { deps } = run;
  const sweep = 'identities';
  const stored = await deps.progress.get(sweep);
  const found = await reconcileIdentities(deps.identities, { cursor: stored.cursor, deadline: run.deadline });
  for (const userId of found.identityGone) repaired(sweep, 'the Cognito user is gone: the account is deleted', { userId });
  for (const userId of found.stalled) repaired(sweep, 'the account deletion had stalled: resumed', { userId });
  await run.saveIfChanged(sweep, stored, found.cursor ? { cursor: found.cursor } : {});
  const repairs = found.identityGone.length + found.stalled.length;
  return { checked: found.checked, repaired: repairs, failed: 0, complete: !found.cursor, identityGone: found.identityGone, stalled: found.stalled };
}
