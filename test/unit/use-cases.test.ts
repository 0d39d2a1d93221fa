import type { DeletionJob } from '../../shared/ports/account-deletion';
import type { BillingProvider } from '../../shared/ports/billing';
import type { EntitlementStore } from '../../shared/ports/entitlements';
import type { EmailOwnership, UserProfile, UserStore } from '../../shared/ports/users';
import { deleteAccount, type DeletionDeps } from '../../shared/use-cases/delete-account';
import { onSignUpConfirmed } from '../../shared/use-cases/sign-up';

/** Plain in-memory fakes of the ports (unit tests of the orchestration and its error paths). */
function fakeUsers(): UserStore & Pick<EmailOwnership, 'takeOver'> & { rows: Map<string, UserProfile> } {
  const rows = new Map<string, UserProfile>();
  return {
    rows,
    createIfAbsent: async (p) => (rows.has(p.userId) ? false : (rows.set(p.userId, { ...p }), true)),
    get: async (id) => rows.get(id),
    findByEmail: async (e) => [...rows.values()].find((r) => r.email === e),
    findByStripeCustomer: async (c) => [...rows.values()].find((r) => r.stripeCustomerId === c),
    attachStripeCustomer: async (id, c) => {
      const row = rows.get(id)!;
      row.stripeCustomerId ??= c;
      return row.stripeCustomerId;
    },
    detachStripeCustomer: async () => undefined,
    markDeleting: async (id, at) => {
      const row = rows.get(id);
      if (row) row.deletingAt ??= at;
    },
    delete: async (id) => void rows.delete(id),
    takeOver: async () => false,
  };
}

/** Cognito as the sign-up sees it: every account holds the address it signed up with. */
const identity = { currentEmailOf: async () => null };
const cache = { invalidate: async () => undefined };

function fakeEntitlements(): EntitlementStore & { rows: Map<string, unknown> } {
  const rows = new Map<string, unknown>();
  return {
    rows,
    get: async (id) => rows.get(id) as never,
    createIfAbsent: async (r) => (rows.has(r.userId) ? false : (rows.set(r.userId, r), true)),
    applySubscriptionState: async () => 'written',
    delete: async (id) => void rows.delete(id),
  };
}

function fakeBilling(overrides: Partial<BillingProvider> = {}): BillingProvider & { calls: string[] } {
  const calls: string[] = [];
  const record = (name: string) => calls.push(name);
  return {
    calls,
    createCustomer: async () => (record('createCustomer'), { customerId: 'cus_1' }),
    listSubscriptions: async () => (record('listSubscriptions'), [{ id: 'sub_1', status: 'active', priceId: 'p', created: 1, currentPeriodStart: 1, currentPeriodEnd: 2, periodPaid: true, trialEnd: null, cancelAtPeriodEnd: false }]),
    getCustomer: async () => ({ deleted: false }),
    cancelSubscription: async () => void record('cancelSubscription'),
    deleteCustomer: async () => void record('deleteCustomer'),
    createSubscriptionCheckout: async () => ({ url: 'u', sessionId: 's' }),
    createTopUpCheckout: async () => ({ url: 'u', sessionId: 's' }),
    createPortalSession: async () => ({ url: 'u' }),
    ...overrides,
  };
}

describe('onSignUpConfirmed', () => {
  const now = () => new Date('2026-11-23T00:00:00Z');

  it('defers the Stripe customer when Stripe is slower than the budget, and still creates the rows', async () => {
    const users = fakeUsers();
    const entitlements = fakeEntitlements();
    const billing = fakeBilling({ createCustomer: () => new Promise((r) => setTimeout(() => r({ customerId: 'cus_late' }), 200)) });
    const started = Date.now();
    const result = await onSignUpConfirmed({ users, entitlements, billing, now, identity, cache }, { userId: 'u1', email: ' Alice@Example.COM ' }, 20);
    expect(Date.now() - started).toBeLessThan(150);
    expect(result).toEqual({ profileCreated: true, customer: 'deferred' });
    expect(users.rows.get('u1')).toMatchObject({ email: 'alice@example.com' });
    expect(entitlements.rows.get('u1')).toMatchObject({ status: 'none', tier: 'free' });
  });

  it('defers when Stripe fails, without throwing', async () => {
    const billing = fakeBilling({ createCustomer: async () => Promise.reject(new Error('boom')) });
    await expect(onSignUpConfirmed({ users: fakeUsers(), entitlements: fakeEntitlements(), billing, now, identity, cache }, { userId: 'u2', email: 'b@example.com' }, 1000)).resolves.toMatchObject({
      customer: 'deferred',
    });
  });

  it('does not create a second customer on a retry', async () => {
    const users = fakeUsers();
    const billing = fakeBilling();
    const deps = { users, entitlements: fakeEntitlements(), billing, now, identity, cache };
    await onSignUpConfirmed(deps, { userId: 'u3', email: 'c@example.com' }, 1000);
    const again = await onSignUpConfirmed(deps, { userId: 'u3', email: 'c@example.com' }, 1000);
    expect(again).toEqual({ profileCreated: false, customer: 'existing' });
    expect(billing.calls.filter((c) => c === 'createCustomer')).toHaveLength(1);
  });
});

describe('deleteAccount', () => {
  function deps(billing: BillingProvider) {
    const users = fakeUsers();
    users.rows.set('u1', { userId: 'u1', email: 'a@example.com', stripeCustomerId: 'cus_1', createdAt: 'x' });
    const jobs = new Map<string, DeletionJob>();
    const identityDeleted: string[] = [];
    const d: DeletionDeps = {
      users,
      entitlements: fakeEntitlements(),
      billing,
      cache: { read: async (_k, load) => ({ value: await load(), source: 'db' }), invalidate: async () => undefined, invalidateBestEffort: async () => undefined },
      purger: { purge: async () => ({ ledgerEntries: 0, apiKeys: 0 }) },
      identity: { deleteUser: async (u) => void identityDeleted.push(u) },
      jobs: { get: async (id) => jobs.get(id), save: async (j) => void jobs.set(j.userId, structuredClone(j)) },
      now: () => new Date('2026-11-23T00:00:00Z'),
    };
    return { d, users, jobs, identityDeleted };
  }

  it('records where it failed and resumes there; the identity goes last', async () => {
    let failDelete = true;
    const billing = fakeBilling({
      deleteCustomer: async () => {
        if (failDelete) throw new Error('stripe down');
      },
    });
    const { d, users, jobs, identityDeleted } = deps(billing);
    await expect(deleteAccount(d, { userId: 'u1', username: 'u1' })).rejects.toThrow('stripe down');
    expect(jobs.get('u1')).toMatchObject({ completed: ['marked'], lastError: 'billing: stripe down', attempts: 1 });
    expect(users.rows.get('u1')?.deletingAt).toBeDefined();
    expect(identityDeleted).toEqual([]);

    failDelete = false;
    await expect(deleteAccount(d, { userId: 'u1', username: 'u1' })).resolves.toEqual({ deleted: true, resumed: true });
    expect(jobs.get('u1')).toMatchObject({ completed: ['marked', 'billing', 'data', 'cache', 'profile', 'identity', 'done'], attempts: 2 });
    expect(jobs.get('u1')).not.toHaveProperty('lastError');
    expect(users.rows.has('u1')).toBe(false);
    expect(identityDeleted).toEqual(['u1']);

    await expect(deleteAccount(d, { userId: 'u1', username: 'u1' })).resolves.toEqual({ deleted: true, resumed: false });
    expect(billing.calls.filter((c) => c === 'cancelSubscription')).toHaveLength(2);
  });
});
