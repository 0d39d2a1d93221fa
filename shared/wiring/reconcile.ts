import { setTimeout as sleep } from 'node:timers/promises';
import { loadConfig, reconcileSection } from '../config';
import { DynamoReconcileProgress, DynamoSubscribedUsers } from '../adapters/dynamodb/reconcile';
import { StripeUndeliveredEvents } from '../adapters/stripe/undelivered-events';
import { queuedIdentitySweep } from '../use-cases/deletion-work';
import type { ReconcileDeps } from '../use-cases/reconcile';
import { aws, tables } from './aws';
import { deletion } from './deletion';
import { perProcess } from './process';
import { stripeAtColdStart } from './stripe';
import { stripeSync } from './stripe-sync';

export const reconcileConfig = perProcess(() => loadConfig({ reconcile: reconcileSection }).reconcile);

/**
 * The reconciler's dependencies, built once per process: the webhook's sync
 * path, Stripe's event log, the sweep of subscribed users, the stored
 * progress, and the identity sweep (deletions it finds go to the deletion
 * worker's queue). `npm run admin -- reconcile` builds the same, with inline deletions.
 */
export const reconciliation = perProcess((): ReconcileDeps & { budgetMs: number } => {
  const config = reconcileConfig();
  const doc = aws().dynamo.doc;
  const t = tables();
  return {
    stripe: stripeSync(),
    undelivered: new StripeUndeliveredEvents(stripeAtColdStart().client),
    subscribers: new DynamoSubscribedUsers(doc, { users: t.TABLE_USERS, entitlements: t.TABLE_ENTITLEMENTS }),
    progress: new DynamoReconcileProgress(doc, t.TABLE_IDEMPOTENCY),
    identities: queuedIdentitySweep(deletion()),
    stripeCallsPerSecond: config.RECONCILE_STRIPE_CALLS_PER_SECOND,
    pageSize: config.RECONCILE_PAGE_SIZE,
    inFlightSeconds: config.RECONCILE_IN_FLIGHT_SECONDS,
    now: () => new Date(),
    sleep: (ms) => sleep(ms),
    budgetMs: config.RECONCILE_TIME_BUDGET_MS,
  };
});
