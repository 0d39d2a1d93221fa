import { randomUUID } from 'node:crypto';
import {
  DELETION_STEPS,
  type DeletionJob,
  type DeletionJobs,
  type DeletionSource,
  type DeletionStep,
  type IdentityDirectory,
  type UserDataPurger,
} from '../ports/account-deletion';
import type { BillingProvider } from '../ports/billing';
import { cacheKeys, type ReadThroughCache } from '../ports/cache';
import type { EntitlementStore } from '../ports/entitlements';
import type { KofiSupporters } from '../ports/kofi';
import type { UserStore } from '../ports/users';

export interface DeletionDeps {
  users: UserStore;
  entitlements: EntitlementStore;
  billing: BillingProvider;
  cache: ReadThroughCache;
  purger: UserDataPurger;
  /** The Ko-fi grants the account owns (its addresses, current and past) and their payment records go with the account. */
  kofi: Pick<KofiSupporters, 'purge'>;
  identity: IdentityDirectory;
  jobs: DeletionJobs;
  now: () => Date;
  /** Rows the data step deletes between two checkpoints. */
  batchSize: number;
}

export interface DeletionRequest {
  userId: string;
  /** The Cognito user name (the access token's `username`); the sweep uses the sub. */
  username?: string;
  source: DeletionSource;
}

/** How long this run may work (`deadline`) and hold the job (`leaseUntil`, at least the deadline plus one unit of work). */
export interface DeletionBudget {
  deadline: Date;
  leaseUntil: Date;
}

export type DeletionProgress =
  | { state: 'deleted'; job: DeletionJob }
  /** `busy`: another runner holds the job right now; this run did nothing. */
  | { state: 'in-progress'; job?: DeletionJob; busy: boolean };

class OutOfTime extends Error {}

/**
 * Deletes a user from every place, in an order that is safe to stop at any
 * point:
 * 1. mark the profile, then the entitlement row, as deleting (every writer
 *    checks one of the two and stops: token writes their row, the others the profile),
 * 2. Stripe: cancel the subscriptions, delete the customer,
 * 3. the user's rows, a batch at a time, checkpointed after each batch,
 * 4. the cache, 5. the profile, 6. the Cognito user.
 * A run works until its deadline, then saves where it stands and returns
 * `in-progress`: the caller hands the job to the queue-driven worker, which
 * runs it again (as many times as needed) with the same code. Each step is
 * idempotent and recorded; a lease keeps two runners off one job.
 */
export async function runAccountDeletion(deps: DeletionDeps, request: DeletionRequest, budget: DeletionBudget): Promise<DeletionProgress> {
  const owner = randomUUID();
  const lease = await deps.jobs.acquire(request.userId, owner, budget.leaseUntil);
  if (!lease.acquired) {
    return lease.job?.completed.includes('done') ? { state: 'deleted', job: lease.job } : { state: 'in-progress', job: lease.job, busy: true };
  }
  if (lease.job?.completed.includes('done')) {
    await deps.jobs.release(request.userId, owner);
    return { state: 'deleted', job: lease.job };
  }

  const now = () => deps.now().toISOString();
  let job: DeletionJob = lease.job
    ? { ...lease.job, purged: lease.job.purged ?? { ledgerEntries: 0, apiKeys: 0 }, source: lease.job.source ?? request.source, attempts: lease.job.attempts + 1, updatedAt: now() }
    : await newJob(deps, request, now());
  const save = async (changes: Partial<DeletionJob>) => {
    job = { ...job, ...changes, updatedAt: now() };
    await deps.jobs.save(job, owner);
  };

  // Every run does at least one unit of work, so even a tiny budget makes progress.
  let units = 0;
  const checkTime = () => {
    if (units > 0 && deps.now().getTime() >= budget.deadline.getTime()) throw new OutOfTime();
    units += 1;
  };

  const steps: Record<Exclude<DeletionStep, 'done'>, () => Promise<void>> = {
    marked: async () => {
      // The profile stops every writer that checks the live user; the entitlement row's mark stops
      // the token writes, which check only their own row (one item less in each of their transactions).
      await deps.users.markDeleting(request.userId, job.startedAt);
      await deps.entitlements.markDeleting(request.userId, job.startedAt);
    },
    billing: async () => {
      // The customer may have been created after the job started (lazily by checkout): read it again.
      const profile = await deps.users.get(request.userId, { consistent: true });
      const customerId = profile?.stripeCustomerId ?? job.stripeCustomerId;
      if (!customerId) return;
      if (customerId !== job.stripeCustomerId) await save({ stripeCustomerId: customerId });
      for (const sub of await deps.billing.listSubscriptions(customerId)) {
        if (sub.status !== 'canceled' && sub.status !== 'incomplete_expired') await deps.billing.cancelSubscription(sub.id);
      }
      await deps.billing.deleteCustomer(customerId);
    },
    data: async () => {
      // Again before the purge: a job marked by an earlier version marked only the profile, and a
      // sign-up retried after the mark may have created the row since. Idempotent (the first mark stays).
      await deps.entitlements.markDeleting(request.userId, job.startedAt);
      for (;;) {
        const batch = await deps.purger.purgeBatch(request.userId, deps.batchSize);
        const purged = { ledgerEntries: job.purged.ledgerEntries + batch.ledgerEntries, apiKeys: job.purged.apiKeys + batch.apiKeys };
        if (batch.done) {
          job = { ...job, purged };
          break;
        }
        await save({ purged });
        checkTime();
      }
      // The row names every address whose grant it carries (it may have moved off them); read before it goes.
      const row = await deps.entitlements.get(request.userId, { consistent: true });
      const kofiEmails = new Set([...(row?.kofiEmails ?? []), ...(job.email ? [job.email] : [])]);
      for (const email of kofiEmails) await deps.kofi.purge(email, request.userId);
      await deps.entitlements.delete(request.userId);
    },
    cache: async () => {
      // The entitlement key always; the premium key when the profile still had an address.
      await deps.cache.invalidate(job.email ? [cacheKeys.entitlement(request.userId), cacheKeys.premium(job.email)] : [cacheKeys.entitlement(request.userId)]);
    },
    profile: () => deps.users.delete(request.userId),
    identity: () => deps.identity.deleteUser(job.username),
  };

  try {
    await save({});
    for (const name of DELETION_STEPS) {
      if (job.completed.includes(name)) continue;
      if (name === 'done') {
        // The finished job is the tombstone that answers later calls: it keeps no personal data.
        const { email: _email, stripeCustomerId: _customer, lastError: _error, ...rest } = job;
        job = { ...rest, completed: [...job.completed, 'done'], finishedAt: now() };
        await save({});
        break;
      }
      checkTime();
      await steps[name]();
      const { lastError: _error, ...rest } = job;
      job = { ...rest, completed: [...job.completed, name] };
      await save({});
    }
  } catch (err) {
    if (err instanceof OutOfTime) {
      await deps.jobs.release(request.userId, owner);
      return { state: 'in-progress', job, busy: false };
    }
    const step = DELETION_STEPS.find((s) => !job.completed.includes(s));
    await save({ lastError: `${step}: ${(err as Error).message}`.slice(0, 500) }).catch(() => undefined);
    await deps.jobs.release(request.userId, owner).catch(() => undefined);
    throw err;
  }
  await deps.jobs.release(request.userId, owner);
  return { state: 'deleted', job };
}

async function newJob(deps: DeletionDeps, request: DeletionRequest, at: string): Promise<DeletionJob> {
  const profile = await deps.users.get(request.userId, { consistent: true });
  return {
    userId: request.userId,
    email: profile?.email,
    stripeCustomerId: profile?.stripeCustomerId,
    username: request.username ?? request.userId,
    source: request.source,
    completed: [],
    purged: { ledgerEntries: 0, apiKeys: 0 },
    startedAt: at,
    updatedAt: at,
    attempts: 1,
  };
}

/** Where a deletion stands, as the route answers it (no email, no Stripe id). */
export function describeDeletion(progress: DeletionProgress) {
  const job = progress.job;
  return {
    deleted: progress.state === 'deleted',
    status: progress.state,
    job: job
      ? {
          startedAt: job.startedAt,
          updatedAt: job.updatedAt,
          ...(job.finishedAt ? { finishedAt: job.finishedAt } : {}),
          completedSteps: job.completed.filter((s) => s !== 'done'),
          nextStep: DELETION_STEPS.find((s) => !job.completed.includes(s)) ?? null,
          purged: job.purged,
          attempts: job.attempts,
        }
      : null,
  };
}
