import { DependencyUnavailable } from '../../shared/ports/errors';
import type { ReconcileProgress, ReconcileSweep, UndeliveredEvent } from '../../shared/ports/reconcile';
import { reconcile, type ReconcileDeps } from '../../shared/use-cases/reconcile';
import type { WebhookDeps } from '../../shared/use-cases/stripe-webhook';

/** Stripe's undelivered events, newest first, paged like events.list. */
function eventLog(events: UndeliveredEvent[]) {
  const calls: Array<{ createdFrom: number; after?: string }> = [];
  return {
    calls,
    page: async ({ createdFrom, createdTo, after, limit }: { createdFrom: number; createdTo: number; after?: string; limit: number }) => {
      calls.push({ createdFrom, after });
      const listed = events.filter((e) => e.created >= createdFrom && e.created <= createdTo);
      const start = after ? listed.findIndex((e) => e.id === after) + 1 : 0;
      const page = listed.slice(start, start + limit);
      return start + limit < listed.length ? { events: page, next: page[page.length - 1]!.id } : { events: page };
    },
  };
}

function progressStore(initial: Partial<Record<ReconcileSweep, ReconcileProgress>> = {}) {
  const items = new Map(Object.entries(initial)) as Map<ReconcileSweep, ReconcileProgress>;
  const saves: Array<[ReconcileSweep, ReconcileProgress]> = [];
  return { items, saves, get: async (sweep: ReconcileSweep) => items.get(sweep) ?? {}, save: async (sweep: ReconcileSweep, p: ReconcileProgress) => void (saves.push([sweep, p]), items.set(sweep, p)) };
}

const NOW = Date.parse('2026-11-30T12:00:00Z');
const event = (id: string, created: number): UndeliveredEvent => ({ id, type: 'invoice.paid', created, data: { object: { customer: `cus_${id}` } } });

/** The webhook path: every event not seen yet is applied (and recorded); `failing` ids throw. */
function webhookPath(failing: Record<string, Error> = {}) {
  const seen = new Set<string>();
  const stripe = {
    processed: { seen: async (id: string) => seen.has(id), record: async (id: string) => void seen.add(id) },
    users: { findByStripeCustomer: async (customerId: string) => {
      const id = customerId.slice(4);
      if (failing[id]) throw failing[id];
      return { userId: `u_${id}`, email: 'a@example.com', createdAt: '' };
    } },
    entitlements: { get: async () => undefined, applySubscriptionState: async () => 'written' },
    billing: { listSubscriptions: async () => [] },
    cache: { invalidate: async () => undefined },
    catalogue: [],
    clock: () => NOW,
  } as unknown as WebhookDeps;
  return { stripe, seen };
}

function deps(overrides: Partial<ReconcileDepsInput> = {}): ReconcileDeps & { log: ReturnType<typeof eventLog>; store: ReturnType<typeof progressStore> } {
  const log = overrides.log ?? eventLog([]);
  const store = overrides.store ?? progressStore();
  return {
    stripe: overrides.stripe ?? webhookPath().stripe,
    undelivered: log,
    subscribers: { page: async () => ({ subscribers: [] }) },
    progress: store,
    identities: { profiles: { page: async () => ({ profiles: [] }) }, identity: { userExists: async () => true, deleteUser: async () => undefined }, jobs: {} as never, now: () => new Date(NOW), stallAfterMs: 1, startDeletion: async () => undefined },
    stripeCallsPerSecond: 1000,
    pageSize: 2,
    inFlightSeconds: overrides.inFlightSeconds ?? 0,
    now: overrides.now ?? (() => new Date(NOW)),
    sleep: async () => undefined,
    log,
    store,
  };
}
type ReconcileDepsInput = { log: ReturnType<typeof eventLog>; store: ReturnType<typeof progressStore>; stripe: WebhookDeps; now: () => Date; inFlightSeconds: number };

const later = new Date(NOW + 60_000);
const seconds = NOW / 1000;

describe('reconcile: the failed-deliveries sweep', () => {
  it('applies each undelivered event once, stores the newest as the high-water mark, and a second run saves nothing', async () => {
    // Arrange
    const d = deps({ log: eventLog([event('c', seconds - 10), event('b', seconds - 20), event('a', seconds - 30)]) });
    // Act
    const first = await reconcile(d, 'light', later);
    const saves = d.store.saves.length;
    const second = await reconcile(d, 'light', later);
    // Assert
    expect(first.failedDeliveries).toEqual({ checked: 3, repaired: 3, failed: 0, complete: true });
    expect(d.store.items.get('failed-deliveries')).toEqual({ highWaterMark: seconds - 10 });
    expect(second.failedDeliveries).toEqual({ checked: 1, repaired: 0, failed: 0, complete: true });
    expect(d.log.calls[d.log.calls.length - 1]!.createdFrom).toBe(seconds - 10);
    expect(d.store.saves.length).toBe(saves);
  });

  it('leaves an event still in its first delivery to the webhook (younger than inFlightSeconds), and replays it once it has failed for longer', async () => {
    // Arrange: one event 30 s old (Stripe is still delivering it), one 20 minutes old
    const d = deps({ log: eventLog([event('fresh', seconds - 30), event('old', seconds - 1200)]), inFlightSeconds: 600 });
    // Act
    const first = await reconcile(d, 'light', later);
    // Assert: only the old one was replayed
    expect(first.failedDeliveries).toMatchObject({ checked: 1, repaired: 1 });
  });

  it('Stripe refusing a page of events stops the sweep without an error: the other sweeps still run, and nothing is saved', async () => {
    // Arrange
    const d = deps();
    d.undelivered = { page: async () => Promise.reject(new DependencyUnavailable('stripe', 'throttled')) } as never;
    // Act
    const report = await reconcile(d, 'full', later);
    // Assert
    expect(report.failedDeliveries).toMatchObject({ checked: 0, complete: false });
    expect(report.subscribers).toMatchObject({ complete: true });
    expect(d.store.saves).toEqual([]);
  });

  it('out of time: stores where it stopped, and the next run resumes there, then moves the mark', async () => {
    // Arrange: the clock ends the run after the first page
    const log = eventLog([event('d', seconds - 10), event('c', seconds - 20), event('b', seconds - 30), event('a', seconds - 40)]);
    let pages = 0;
    const counting = { ...log, page: async (input: Parameters<typeof log.page>[0]) => (pages++, log.page(input)) };
    const store = progressStore({ 'failed-deliveries': { highWaterMark: seconds - 100 } });
    const path = webhookPath();
    const cut = deps({ log: counting as never, store, stripe: path.stripe, now: () => new Date(pages > 1 ? later.getTime() + 1 : NOW) });
    // Act
    const first = await reconcile(cut, 'light', later);
    // Assert
    expect(first.failedDeliveries).toMatchObject({ checked: 2, complete: false });
    expect(store.items.get('failed-deliveries')).toEqual({ highWaterMark: seconds - 100, cursor: 'c', pendingHighWaterMark: seconds - 10 });

    // Act: a run with time resumes after `c`
    const second = await reconcile(deps({ log, store, stripe: path.stripe }), 'light', later);
    // Assert
    expect(log.calls[log.calls.length - 2]).toEqual({ createdFrom: seconds - 100, after: 'c' });
    expect(second.failedDeliveries).toEqual({ checked: 2, repaired: 2, failed: 0, complete: true });
    expect(store.items.get('failed-deliveries')).toEqual({ highWaterMark: seconds - 10 });
    expect([...path.seen].sort()).toEqual(['a', 'b', 'c', 'd']);
  });

  it('an event that fails holds the mark at its creation so the next run lists it again; Stripe down stops the sweep', async () => {
    // Arrange
    const broken = webhookPath({ b: new Error('a bug') });
    const d = deps({ log: eventLog([event('c', seconds - 10), event('b', seconds - 20), event('a', seconds - 30)]), stripe: broken.stripe });
    // Act
    const report = await reconcile(d, 'light', later);
    // Assert
    expect(report.failedDeliveries).toEqual({ checked: 3, repaired: 2, failed: 1, complete: true });
    expect(d.store.items.get('failed-deliveries')).toEqual({ highWaterMark: seconds - 20 });

    // Arrange: Stripe is down for `c`
    const down = webhookPath({ c: new DependencyUnavailable('stripe', 'failing') });
    const stopped = deps({ log: eventLog([event('c', seconds - 10), event('b', seconds - 20)]), stripe: down.stripe });
    // Act
    const result = await reconcile(stopped, 'light', later);
    // Assert: nothing counted as failed, nothing skipped: the next run starts over from the top
    expect(result.failedDeliveries).toEqual({ checked: 0, repaired: 0, failed: 0, complete: false });
    expect(stopped.store.saves).toEqual([]);
  });
});
