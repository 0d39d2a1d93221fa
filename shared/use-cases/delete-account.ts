import type { DeletionJob, DeletionJobs, DeletionStep, IdentityDirectory, UserDataPurger } from '../ports/account-deletion';
import type { BillingProvider } from '../ports/billing';
import type { ReadThroughCache } from '../ports/cache';
import type { EntitlementStore } from '../ports/entitlements';
import type { UserStore } from '../ports/users';
import { invalidateUser } from './stripe-sync';

export interface DeletionDeps {
  users: UserStore;
  entitlements: EntitlementStore;
  billing: BillingProvider;
  cache: ReadThroughCache;
  purger: UserDataPurger;
  identity: IdentityDirectory;
  jobs: DeletionJobs;
  now: () => Date;
}

/**
 * Deletes a user from every place, in an order that is safe to stop at any
 * step: first the profile is marked (webhooks for this user stop writing),
 * then Stripe (subscriptions canceled, customer deleted), every DynamoDB row,
 * the cache, the profile and last the Cognito user. Each step is idempotent
 * and recorded, so a retry after a failure finishes the job, and a second
 * call after success just answers again.
 */
export async function deleteAccount(deps: DeletionDeps, caller: { userId: string; username: string }): Promise<{ deleted: true; resumed: boolean }> {
  const now = () => deps.now().toISOString();
  const existing = await deps.jobs.get(caller.userId);
  if (existing?.completed.includes('done')) return { deleted: true, resumed: false };

  let job: DeletionJob;
  if (existing) {
    job = { ...existing, attempts: existing.attempts + 1, updatedAt: now() };
  } else {
    const profile = await deps.users.get(caller.userId, { consistent: true });
    job = {
      userId: caller.userId,
      email: profile?.email,
      stripeCustomerId: profile?.stripeCustomerId,
      username: caller.username,
      completed: [],
      startedAt: now(),
      updatedAt: now(),
      attempts: 1,
    };
  }
  const resumed = existing !== undefined;

  const step = async (name: DeletionStep, run: () => Promise<void>) => {
    if (job.completed.includes(name)) return;
    try {
      await run();
    } catch (err) {
      job = { ...job, lastError: `${name}: ${(err as Error).message}`.slice(0, 500), updatedAt: now() };
      await deps.jobs.save(job);
      throw err;
    }
    job = { ...job, completed: [...job.completed, name], updatedAt: now() };
    delete job.lastError;
    await deps.jobs.save(job);
  };

  await deps.jobs.save(job);
  await step('marked', () => deps.users.markDeleting(caller.userId, job.startedAt));
  await step('billing', async () => {
    // The customer may have been created after the job started (lazily by checkout): read it again.
    const profile = await deps.users.get(caller.userId, { consistent: true });
    const customerId = profile?.stripeCustomerId ?? job.stripeCustomerId;
    if (!customerId) return;
    for (const sub of await deps.billing.listSubscriptions(customerId)) {
      if (sub.status !== 'canceled' && sub.status !== 'incomplete_expired') await deps.billing.cancelSubscription(sub.id);
    }
    await deps.billing.deleteCustomer(customerId);
  });
  await step('data', async () => {
    await deps.purger.purge(caller.userId);
    await deps.entitlements.delete(caller.userId);
  });
  await step('cache', async () => {
    if (job.email) await invalidateUser(deps.cache, { userId: caller.userId, email: job.email });
  });
  await step('profile', () => deps.users.delete(caller.userId));
  await step('identity', () => deps.identity.deleteUser(job.username));
  await step('done', async () => undefined);
  return { deleted: true, resumed };
}
