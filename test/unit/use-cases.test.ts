import { resolve } from 'node:path';
import { readCatalogueFile } from '../../shared/config/catalogue';
import { resolveCatalogue } from '../../shared/domain/catalogue';
import { startCheckout } from '../../shared/use-cases/billing';
import { newEntitlement } from '../../shared/domain/entitlement';
import { DeletionLeaseLostError, type DeletionJob, type DeletionJobs } from '../../shared/ports/account-deletion';
import type { BillingProvider } from '../../shared/ports/billing';
import type { EntitlementStore, KofiEntitlements } from '../../shared/ports/entitlements';
import type { EmailOwnership, UserProfile, UserStore } from '../../shared/ports/users';
import { describeDeletion, runAccountDeletion, type DeletionDeps } from '../../shared/use-cases/delete-account';
import { reconcileIdentities } from '../../shared/use-cases/reconcile-identities';
import { deletionBudget } from '../../shared/use-cases/deletion-work';
import { parseDeletionWork } from '../../shared/adapters/sqs/deletion-queue';
import { ensureStripeCustomer, onSignUpConfirmed } from '../../shared/use-cases/sign-up';
import { receiveKofiPayment } from '../../shared/use-cases/kofi-webhook';
import { DEFAULT_KOFI_RULES, type KofiGrant } from '../../shared/domain/kofi';
import type { KofiSupporters } from '../../shared/ports/kofi';

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
      const row = rows.get(id);
      if (!row || row.deletingAt) return undefined;
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
/** No Ko-fi supporter among these emails. */
const kofi = { claimGrant: async () => ({ outcome: 'none' as const }) };

/** `users`: the profiles the live-user check reads (as the adapter's transaction does); without it every user is live. */
function fakeEntitlements(users?: { rows: Map<string, UserProfile> }): EntitlementStore & KofiEntitlements & { rows: Map<string, unknown> } {
  const rows = new Map<string, unknown>();
  const live = (id: string) => !users || (users.rows.has(id) && !users.rows.get(id)!.deletingAt);
  return {
    rows,
    get: async (id) => rows.get(id) as never,
    createIfAbsent: async (r) => (!live(r.userId) ? 'gone' : rows.has(r.userId) ? 'exists' : (rows.set(r.userId, r), 'created')),
    applySubscriptionState: async () => 'written',
    applyKofiGrant: async () => 'written',
    markDeleting: async (id, at) => {
      const row = rows.get(id) as { deletingAt?: string } | undefined;
      if (row) row.deletingAt ??= at;
    },
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
    updateCustomerEmail: async () => void record('updateCustomerEmail'),
    deleteCustomer: async () => void record('deleteCustomer'),
    createSubscriptionCheckout: async () => ({ url: 'u', sessionId: 's' }),
    createTopUpCheckout: async () => ({ url: 'u', sessionId: 's' }),
    createPortalSession: async () => ({ url: 'u' }),
    recentCheckouts: async () => [],
    chargeOf: async () => undefined,
    disputeOf: async () => undefined,
    checkoutOfPayment: async () => undefined,
    expireCheckout: async () => 'expired',
    ...overrides,
  };
}

describe('onSignUpConfirmed', () => {
  const now = () => new Date('2026-11-23T00:00:00Z');

  it('defers the Stripe customer when Stripe is slower than the budget, and still creates the rows', async () => {
    const users = fakeUsers();
    const entitlements = fakeEntitlements(users);
    const billing = fakeBilling({ createCustomer: () => new Promise((r) => setTimeout(() => r({ customerId: 'cus_late' }), 200)) });
    const started = Date.now();
    const result = await onSignUpConfirmed({ users, entitlements, billing, now, identity, cache, kofi }, { userId: 'u1', email: ' Alice@Example.COM ' }, 20);
    expect(Date.now() - started).toBeLessThan(150);
    expect(result).toEqual({ profileCreated: true, customer: 'deferred' });
    expect(users.rows.get('u1')).toMatchObject({ email: 'alice@example.com' });
    expect(entitlements.rows.get('u1')).toMatchObject({ status: 'none', tier: 'free' });
  });

  it('defers when Stripe fails, without throwing', async () => {
    const billing = fakeBilling({ createCustomer: async () => Promise.reject(new Error('boom')) });
    await expect(onSignUpConfirmed({ users: fakeUsers(), entitlements: fakeEntitlements(), billing, now, identity, cache, kofi }, { userId: 'u2', email: 'b@example.com' }, 1000)).resolves.toMatchObject({
      customer: 'deferred',
    });
  });

  it('does not create a second customer on a retry', async () => {
    const users = fakeUsers();
    const billing = fakeBilling();
    const deps = { users, entitlements: fakeEntitlements(), billing, now, identity, cache, kofi };
    await onSignUpConfirmed(deps, { userId: 'u3', email: 'c@example.com' }, 1000);
    const again = await onSignUpConfirmed(deps, { userId: 'u3', email: 'c@example.com' }, 1000);
    expect(again).toEqual({ profileCreated: false, customer: 'existing' });
    expect(billing.calls.filter((c) => c === 'createCustomer')).toHaveLength(1);
  });

  it('a trigger retried after the account deletion started creates nothing: no row, no Ko-fi claim, no customer', async () => {
    const users = fakeUsers();
    users.rows.set('u4', { userId: 'u4', email: 'd@example.com', createdAt: 'x', deletingAt: now().toISOString() });
    const entitlements = fakeEntitlements(users);
    const billing = fakeBilling();
    const claims: string[] = [];
    const result = await onSignUpConfirmed(
      { users, entitlements, billing, now, identity, cache, kofi: { claimGrant: async (email: string) => (claims.push(email), { outcome: 'none' as const }) } },
      { userId: 'u4', email: 'd@example.com' },
      1000,
    );
    expect(result).toEqual({ profileCreated: false, customer: 'none' });
    expect(entitlements.rows.has('u4')).toBe(false);
    expect(claims).toEqual([]);
    expect(billing.calls).toEqual([]);
  });
});

/** In-memory deletion jobs with the same lease rules as DynamoDeletionJobs. */
function fakeJobs(now: () => Date) {
  const rows = new Map<string, { job?: DeletionJob; owner?: string; until?: number }>();
  const jobs: DeletionJobs = {
    get: async (id) => rows.get(id)?.job,
    acquire: async (id, owner, until) => {
      const row = rows.get(id) ?? {};
      if (row.until !== undefined && row.until >= now().getTime()) return { acquired: false, job: row.job, leaseUntil: new Date(row.until) };
      rows.set(id, { ...row, owner, until: until.getTime() });
      return { acquired: true, job: row.job };
    },
    save: async (job, owner) => {
      const row = rows.get(job.userId);
      if (row?.owner !== owner) throw new DeletionLeaseLostError(job.userId);
      rows.set(job.userId, { ...row, job: structuredClone(job) });
    },
    release: async (id, owner) => {
      const row = rows.get(id);
      if (row?.owner === owner) rows.set(id, { job: row.job });
    },
  };
  return { jobs, rows };
}

describe('a Ko-fi payment racing the sign-up of its email', () => {
  const now = () => new Date('2026-11-30T12:00:05Z');
  const EMAIL = 'supporter@example.com';
  const data = JSON.stringify({
    verification_token: 'tok', message_id: 'm1', timestamp: '2026-11-30T12:00:00Z', type: 'Subscription', is_public: true, from_name: 'A', message: null,
    amount: '5.00', url: null, email: EMAIL, currency: 'USD', is_subscription_payment: true, is_first_subscription_payment: true,
    kofi_transaction_id: 't1', shop_items: null, tier_name: null, shipping: null,
  });

  /** The sign-up's and the webhook's stores, shared, with the adapters' rules (row created by whichever writes first; paid-through only grows). */
  function world() {
    const users = fakeUsers();
    const base = fakeEntitlements();
    const kofiRows = new Map<string, KofiGrant>();
    const grants = new Map<string, KofiGrant>();
    const entitlements = {
      ...base,
      applyKofiGrant: async (userId: string, _email: string, grant: KofiGrant) => {
        if (!users.rows.has(userId)) return 'gone' as const;
        const held = kofiRows.get(userId);
        if (held && held.paidThrough >= grant.paidThrough) return 'unchanged' as const;
        kofiRows.set(userId, grant);
        return 'written' as const;
      },
    };
    const supporters: KofiSupporters = {
      grantOf: async (email: string) => grants.get(email),
      extendGrant: async (email: string, grant: KofiGrant) => {
        const held = grants.get(email);
        if (held && held.paidThrough >= grant.paidThrough) return 'unchanged' as const;
        grants.set(email, { ...grant, ...(held?.ownerUserId ? { ownerUserId: held.ownerUserId } : {}) });
        return 'extended' as const;
      },
      claimGrant: async (email: string, userId: string) => {
        const held = grants.get(email);
        if (!held) return { outcome: 'none' };
        if (held.ownerUserId && held.ownerUserId !== userId) return { outcome: 'owned', ownerUserId: held.ownerUserId };
        const claimed = { ...held, ownerUserId: userId };
        grants.set(email, claimed);
        return { outcome: 'claimed', grant: claimed };
      },
      recordPayment: async () => undefined,
      purge: async () => undefined,
    };
    const processedIds = new Set<string>();
    const deliver = () =>
      receiveKofiPayment(
        {
          verificationToken: { current: async () => 'tok', reread: async () => undefined },
          rules: DEFAULT_KOFI_RULES,
          supporters,
          users,
          entitlements,
          processed: { seen: async (id) => processedIds.has(id), record: async (id) => void processedIds.add(id) },
          cache,
          now,
        },
        data,
      );
    const signUp = () => onSignUpConfirmed({ users, entitlements, billing: fakeBilling(), now, identity, cache, kofi: supporters }, { userId: 'u1', email: EMAIL }, 1000);
    return { users, entitlements, supporters, kofiRows, deliver, signUp };
  }

  it('the payment lands before the sign-up: the sign-up attaches it', async () => {
    const w = world();
    await w.deliver();
    await w.signUp();
    expect(w.kofiRows.get('u1')).toMatchObject({ plan: 'basic', paidThrough: '2027-01-02T12:00:00.000Z', ownerUserId: 'u1' });
  });

  it('the payment lands after the profile, before the sign-up reads the grants: the webhook writes the row itself', async () => {
    const w = world();
    const claim = w.supporters.claimGrant;
    // The sign-up's claim finds "no grant", then the payment is applied before the sign-up finishes.
    w.supporters.claimGrant = async (email, userId) => {
      const before = await claim(email, userId);
      w.supporters.claimGrant = claim;
      await w.deliver();
      return before;
    };
    await w.signUp();
    expect(w.kofiRows.get('u1')).toMatchObject({ plan: 'basic', paidThrough: '2027-01-02T12:00:00.000Z', ownerUserId: 'u1' });
  });

  it('the payment lands after the sign-up: the webhook finds the account', async () => {
    const w = world();
    await w.signUp();
    expect(w.kofiRows.size).toBe(0);
    await expect(w.deliver()).resolves.toMatchObject({ handled: 'granted', account: true });
    expect(w.kofiRows.get('u1')).toMatchObject({ plan: 'basic', ownerUserId: 'u1' });
  });
});

describe('ensureStripeCustomer', () => {
  const now = () => new Date('2026-11-23T00:00:00Z');

  it('deletes the customer it made when the account deletion started meanwhile (the billing step may have run already)', async () => {
    // Regression: a checkout racing DELETE /me/account attached a customer after the saga's billing step: an orphan Stripe could bill.
    const users = fakeUsers();
    await users.createIfAbsent({ userId: 'u1', email: 'a@example.com', createdAt: now().toISOString() });
    const billing = fakeBilling({
      createCustomer: async () => {
        await users.markDeleting('u1', now().toISOString()); // the deletion marks the profile while Stripe creates the customer
        return { customerId: 'cus_orphan' };
      },
    });
    expect(await ensureStripeCustomer({ users, entitlements: fakeEntitlements(), billing, now }, 'u1')).toBeUndefined();
    expect(billing.calls).toContain('deleteCustomer');
    expect(users.rows.get('u1')?.stripeCustomerId).toBeUndefined();
  });

  it('creates nothing for an account already being deleted', async () => {
    const users = fakeUsers();
    await users.createIfAbsent({ userId: 'u2', email: 'b@example.com', createdAt: now().toISOString(), deletingAt: now().toISOString() });
    const billing = fakeBilling();
    expect(await ensureStripeCustomer({ users, entitlements: fakeEntitlements(), billing, now }, 'u2')).toBeUndefined();
    expect(billing.calls).toEqual([]);
  });
});

describe('runAccountDeletion', () => {
  const at = new Date('2026-11-23T00:00:00Z');
  const plenty = { deadline: new Date(at.getTime() + 60_000), leaseUntil: new Date(at.getTime() + 90_000) };
  const noTime = { deadline: at, leaseUntil: new Date(at.getTime() + 90_000) };
  const request = { userId: 'u1', username: 'u1', source: 'api' as const };

  function deps(billing: BillingProvider, rowsToPurge = 0) {
    const users = fakeUsers();
    users.rows.set('u1', { userId: 'u1', email: 'a@example.com', stripeCustomerId: 'cus_1', createdAt: 'x' });
    let clock = at;
    const now = () => clock;
    const { jobs, rows } = fakeJobs(now);
    const identityDeleted: string[] = [];
    let left = rowsToPurge;
    const entitlements = fakeEntitlements();
    const d: DeletionDeps = {
      users,
      entitlements,
      billing,
      cache: { read: async (_k, load) => ({ value: await load(), source: 'db' }), invalidate: async () => undefined, invalidateBestEffort: async () => undefined },
      purger: {
        purgeBatch: async (_id, size) => {
          const n = Math.min(size, left);
          left -= n;
          return { ledgerEntries: n, apiKeys: 0, done: n === 0 };
        },
      },
      kofi: { purge: async () => undefined },
      identity: { deleteUser: async (u) => void identityDeleted.push(u), userExists: async () => false },
      jobs,
      now,
      batchSize: 10,
    };
    return { d, users, entitlements, rows, identityDeleted, tick: (ms: number) => (clock = new Date(clock.getTime() + ms)) };
  }

  it('marks the entitlement row again before the purge: a job an earlier version marked (profile only), a row a late sign-up recreated', async () => {
    const { d, users, entitlements, rows } = deps(fakeBilling());
    // An earlier version ran the first step: the profile is marked, the job says so, the row is not.
    users.rows.get('u1')!.deletingAt = at.toISOString();
    entitlements.rows.set('u1', { userId: 'u1', status: 'none', tier: 'free' });
    rows.set('u1', { job: { userId: 'u1', username: 'u1', source: 'api', startedAt: at.toISOString(), updatedAt: at.toISOString(), completed: ['marked', 'billing'], purged: { ledgerEntries: 0, apiKeys: 0 }, attempts: 1 } as DeletionJob });
    const markSeenByPurge: unknown[] = [];
    const purge = d.purger.purgeBatch;
    d.purger = { purgeBatch: async (id, size) => (markSeenByPurge.push((entitlements.rows.get(id) as { deletingAt?: string } | undefined)?.deletingAt), purge(id, size)) };

    await expect(runAccountDeletion(d, request, plenty)).resolves.toMatchObject({ state: 'deleted' });

    // The first purge batch already ran behind the row's mark: no token write could land after it.
    expect(markSeenByPurge[0]).toBe(at.toISOString());
  });

  it('records where it failed and resumes there; the identity goes last', async () => {
    let failDelete = true;
    const billing = fakeBilling({
      deleteCustomer: async () => {
        if (failDelete) throw new Error('stripe down');
      },
    });
    const { d, users, entitlements, rows, identityDeleted } = deps(billing);
    entitlements.rows.set('u1', { userId: 'u1', status: 'active', tier: 'pro' });
    await expect(runAccountDeletion(d, request, plenty)).rejects.toThrow('stripe down');
    expect(rows.get('u1')?.job).toMatchObject({ completed: ['marked'], lastError: 'billing: stripe down', attempts: 1 });
    expect(rows.get('u1')?.owner).toBeUndefined(); // the lease is released on failure
    expect(users.rows.get('u1')?.deletingAt).toBe(at.toISOString());
    // Token writes check only their own row: it carries the same mark from the first step on.
    expect(entitlements.rows.get('u1')).toMatchObject({ deletingAt: at.toISOString() });
    expect(identityDeleted).toEqual([]);

    failDelete = false;
    await expect(runAccountDeletion(d, request, plenty)).resolves.toMatchObject({ state: 'deleted' });
    expect(rows.get('u1')?.job).toMatchObject({ completed: ['marked', 'billing', 'data', 'cache', 'profile', 'identity', 'done'], attempts: 2 });
    expect(rows.get('u1')?.job).not.toHaveProperty('lastError');
    expect(users.rows.has('u1')).toBe(false);
    expect(entitlements.rows.has('u1')).toBe(false);
    expect(identityDeleted).toEqual(['u1']);

    await expect(runAccountDeletion(d, request, plenty)).resolves.toMatchObject({ state: 'deleted' });
    expect(billing.calls.filter((c) => c === 'cancelSubscription')).toHaveLength(2);
  });

  it("purges the Ko-fi grants of every address the row carries (addresses it moved off too) and the current one, as this account", async () => {
    const { d } = deps(fakeBilling());
    const purged: string[] = [];
    d.kofi = { purge: async (email, userId) => void purged.push(`${email} ${userId}`) };
    await d.entitlements.createIfAbsent({ ...newEntitlement('u1', at), kofiEmails: ['old@example.com', 'a@example.com'] });
    await expect(runAccountDeletion(d, request, plenty)).resolves.toMatchObject({ state: 'deleted' });
    expect(purged.sort()).toEqual(['a@example.com u1', 'old@example.com u1']);
  });

  it('keeps no email or Stripe customer id in the finished job', async () => {
    const { d, rows } = deps(fakeBilling());
    const done = await runAccountDeletion(d, request, plenty);
    expect(done.state).toBe('deleted');
    const stored = rows.get('u1')?.job;
    expect(stored).toBeDefined();
    expect(JSON.stringify(stored)).not.toContain('a@example.com');
    expect(JSON.stringify(stored)).not.toContain('cus_1');
    expect(stored).toMatchObject({ finishedAt: at.toISOString(), purged: { ledgerEntries: 0, apiKeys: 0 } });
  });

  it('with no time left does one unit of work per run, checkpointed, until done', async () => {
    const { d, rows, users } = deps(fakeBilling(), 35);
    const runs: string[] = [];
    for (let i = 0; i < 30; i++) {
      const progress = await runAccountDeletion(d, request, noTime);
      runs.push(progress.state);
      if (progress.state === 'deleted') break;
      expect(progress).toMatchObject({ busy: false });
    }
    // marked, billing, 4 purge batches of 10 (the 4th finds 5 and the 5th finds none), cache, profile, identity, done.
    expect(runs.filter((r) => r === 'in-progress').length).toBeGreaterThanOrEqual(8);
    expect(runs[runs.length - 1]).toBe('deleted');
    expect(rows.get('u1')?.job?.purged).toEqual({ ledgerEntries: 35, apiKeys: 0 });
    expect(users.rows.has('u1')).toBe(false);
  });

  it('answers from the stored job while another runner holds it', async () => {
    const { d, rows } = deps(fakeBilling(), 100);
    await runAccountDeletion(d, request, noTime);
    rows.set('u1', { ...rows.get('u1'), owner: 'someone-else', until: at.getTime() + 1000 });
    const busy = await runAccountDeletion(d, request, plenty);
    expect(busy).toMatchObject({ state: 'in-progress', busy: true, job: { completed: ['marked'] } });
    expect(describeDeletion(busy)).toEqual({
      deleted: false,
      status: 'in-progress',
      job: { startedAt: at.toISOString(), updatedAt: at.toISOString(), completedSteps: ['marked'], nextStep: 'billing', purged: { ledgerEntries: 0, apiKeys: 0 }, attempts: 1 },
    });
  });
});

describe('reconcileIdentities', () => {
  const at = new Date('2026-11-23T12:00:00Z');
  function sweepDeps(profiles: Array<{ userId: string; deletingAt?: string }>, alive: string[], jobs: Record<string, Partial<DeletionJob>> = {}) {
    const started: Array<[string, string]> = [];
    const pages = [profiles.slice(0, 2), profiles.slice(2)];
    return {
      started,
      deps: {
        profiles: { page: async (cursor?: string) => (cursor ? { profiles: pages[1]! } : { profiles: pages[0]!, ...(pages[1]!.length ? { cursor: 'p2' } : {}) }) },
        identity: { deleteUser: async () => undefined, userExists: async (sub: string) => alive.includes(sub) },
        jobs: { get: async (id: string) => jobs[id] as DeletionJob | undefined, acquire: async () => ({ acquired: true as const }), save: async () => undefined, release: async () => undefined },
        now: () => at,
        stallAfterMs: 15 * 60_000,
        startDeletion: async (userId: string, reason: string) => void started.push([userId, reason]),
      },
    };
  }

  it('deletes profiles whose Cognito user is gone and resumes stalled deletions, across pages', async () => {
    const { deps, started } = sweepDeps(
      [{ userId: 'alive' }, { userId: 'gone' }, { userId: 'stalled', deletingAt: '2026-11-23T11:00:00Z' }, { userId: 'running', deletingAt: '2026-11-23T11:00:00Z' }],
      ['alive'],
      { stalled: { updatedAt: '2026-11-23T11:40:00Z', completed: ['marked'] }, running: { updatedAt: '2026-11-23T11:59:00Z', completed: ['marked'] } },
    );
    const report = await reconcileIdentities(deps);
    expect(report).toEqual({ checked: 4, identityGone: ['gone'], stalled: ['stalled'] });
    expect(started).toEqual([
      ['gone', 'identity-gone'],
      ['stalled', 'stalled'],
    ]);
  });

  it('stops at the deadline and hands back a cursor', async () => {
    const { deps } = sweepDeps([{ userId: 'a' }, { userId: 'b' }, { userId: 'c' }], ['a', 'b', 'c']);
    expect(await reconcileIdentities(deps, { deadline: at })).toEqual({ checked: 2, identityGone: [], stalled: [], cursor: 'p2' });
  });
});

describe('deletion worker messages', () => {
  it('reads its own work items and turns a CloudTrail DeleteUser event into the identity sweep', () => {
    expect(parseDeletionWork(JSON.stringify({ kind: 'continue-deletion', userId: 'u1' }))).toEqual({ kind: 'continue-deletion', userId: 'u1' });
    expect(parseDeletionWork(JSON.stringify({ kind: 'reconcile-identities', cursor: 'c' }))).toEqual({ kind: 'reconcile-identities', cursor: 'c' });
    const cloudTrail = {
      version: '0',
      source: 'aws.cognito-idp',
      'detail-type': 'AWS API Call via CloudTrail',
      detail: { eventSource: 'cognito-idp.amazonaws.com', eventName: 'DeleteUser', requestParameters: { accessToken: 'HIDDEN_DUE_TO_SECURITY_REASONS' } },
    };
    expect(parseDeletionWork(JSON.stringify(cloudTrail))).toEqual({ kind: 'reconcile-identities' });
    expect(parseDeletionWork(JSON.stringify({ kind: 'something-else' }))).toBeUndefined();
  });
});

describe('deletionBudget', () => {
  it('works until the budget or 5 s before the function times out, and holds the job until the function cannot run', () => {
    expect(deletionBudget(8000, 20_000, 0)).toEqual({ deadline: new Date(8000), leaseUntil: new Date(21_000) });
    expect(deletionBudget(8000, 9000, 0)).toEqual({ deadline: new Date(4000), leaseUntil: new Date(10_000) });
    expect(deletionBudget(0, undefined, 0).deadline).toEqual(new Date(0));
  });
});

describe('startCheckout sells what the catalogue says', () => {
  const custom = resolveCatalogue(readCatalogueFile(resolve(__dirname, '..', 'fixtures', 'catalogues', 'custom.config.json')).file, 'local');
  // The fixture's team plan has no "local" price: give it `teamPrices`, and a price to the 500-token pack.
  const catalogueWith = (teamPrices: string[]) => ({
    ...custom,
    plans: custom.plans.map((p) => (p.name === 'team' ? { ...p, stripePriceIds: teamPrices } : p)),
    topUps: custom.topUps.map((t) => (t.name === 'tokens-500' ? { ...t, stripePriceIds: ['price_500'] } : t)),
  });

  async function checkoutWith(request: { tier: string } | { topUp: number }, catalogue = catalogueWith(['price_team'])) {
    const users = fakeUsers();
    await users.createIfAbsent({ userId: 'u1', email: 'u1@example.com', createdAt: '2026-11-01T00:00:00Z', stripeCustomerId: 'cus_1' });
    const subscriptions: unknown[] = [];
    const topUps: unknown[] = [];
    const billing = fakeBilling({
      listSubscriptions: async () => [],
      createSubscriptionCheckout: async (input) => (subscriptions.push(input), { url: 'https://checkout/s', sessionId: 's' }),
      createTopUpCheckout: async (input) => (topUps.push(input), { url: 'https://checkout/t', sessionId: 't' }),
    });
    const deps = { users, entitlements: fakeEntitlements(), billing, identity, now: () => new Date('2026-11-23T00:00:00Z'), catalogue, appBaseUrl: 'https://app.example.com/' };
    const result = await startCheckout(deps, 'u1', request);
    return { result, subscriptions, topUps };
  }

  it("a plan: its first price of the environment, with its trial as Checkout's trial_period_days", async () => {
    const team = await checkoutWith({ tier: 'team' });
    expect(team.subscriptions).toEqual([expect.objectContaining({ priceId: 'price_team', trialDays: 14 })]);
    const pro = await checkoutWith({ tier: 'creator' });
    expect(pro.subscriptions).toEqual([expect.objectContaining({ priceId: 'price_pro_monthly' })]);
    expect(pro.subscriptions[0]).not.toHaveProperty('trialDays');
  });

  it('a plan without a price here, or not sold, is refused naming the field', async () => {
    await expect(checkoutWith({ tier: 'tester' })).rejects.toThrow(/^tier: must be one of basic, pro, team, enterprise$/);
    await expect(checkoutWith({ tier: 'team' }, catalogueWith([]))).rejects.toThrow('tier: team has no Stripe price in the catalogue\'s "local" environment');
  });

  it('a top-up: packs of the first priced pack whose size divides the amount', async () => {
    expect((await checkoutWith({ topUp: 300 })).topUps).toEqual([expect.objectContaining({ priceId: 'price_token_pack_100', packs: 3, tokens: 300 })]);
    expect((await checkoutWith({ topUp: 1000 })).topUps).toEqual([expect.objectContaining({ priceId: 'price_token_pack_100', packs: 10, tokens: 1000 })]);
    await expect(checkoutWith({ topUp: 150 })).rejects.toThrow('topUp: must be a multiple of 100 or 500 tokens');
  });
});
