import { errorPolicy } from '../../shared/http/error-policy';
import type { EmailCodeOutcome, EmailIdentity } from '../../shared/ports/email-identity';
import { EmailTakenError, type EmailOwnership, type UserProfile, type UserStore } from '../../shared/ports/users';
import {
  confirmEmailChange,
  createProfileOwningEmail,
  startEmailChange,
  type EmailChangeDeps,
} from '../../shared/use-cases/email-change';
import { EmailTokenRefusedError, InvalidEmailCodeError } from '../../shared/use-cases/errors';

/** Profiles and ownership items in memory, with the store's conditions (unit tests of the orchestration's error paths). */
function fakeStore() {
  const profiles = new Map<string, UserProfile>();
  const owners = new Map<string, string>();
  const claimedAt = new Map<string, string>();
  const store: Pick<UserStore, 'get' | 'createIfAbsent'> & EmailOwnership = {
    get: async (id) => (profiles.has(id) ? { ...profiles.get(id)! } : undefined),
    createIfAbsent: async (p) => {
      if (profiles.has(p.userId)) return false;
      const owner = owners.get(p.email);
      if (owner && owner !== p.userId) throw new EmailTakenError(p.email, owner);
      owners.set(p.email, p.userId);
      profiles.set(p.userId, { ...p });
      return true;
    },
    ownerOf: async (e) => owners.get(e),
    claim: async (id, e) => {
      const profile = profiles.get(id);
      if (!profile || profile.deletingAt) return 'gone';
      const owner = owners.get(e);
      if (owner && owner !== id) throw new EmailTakenError(e, owner, claimedAt.get(e));
      owners.set(e, id);
      claimedAt.set(e, new Date().toISOString());
      return 'claimed';
    },
    setPendingEmail: async (id, e) => void (profiles.get(id)!.pendingEmail = e),
    moveEmail: async (id, from, to) => {
      const p = profiles.get(id)!;
      if (p.email !== from || owners.get(to) !== id) throw new Error('refused');
      p.email = to;
      delete p.pendingEmail;
      if (from && owners.get(from) === id) owners.delete(from);
    },
    takeOver: async (e, from, to) => {
      if (owners.get(e) !== from) return false;
      owners.set(e, to);
      const holder = profiles.get(from);
      if (holder?.email === e) delete (holder as Partial<UserProfile>).email;
      return true;
    },
    releaseClaim: async (id, e) => {
      if (owners.get(e) === id && profiles.get(id)?.email !== e) owners.delete(e);
    },
    release: async (id, e) => {
      if (owners.get(e) === id) owners.delete(e);
    },
  };
  return { store, profiles, owners };
}

function fakeIdentity(emails: Record<string, string | null>, confirm: () => Promise<EmailCodeOutcome> = async () => 'verified') {
  const calls: string[] = [];
  const identity: EmailIdentity = {
    currentEmailOf: async (id) => emails[id] ?? null,
    requestEmailChange: async (id, e) => void calls.push(`request ${id} ${e}`),
    confirmEmailChange: async () => (calls.push('confirm'), confirm()),
  };
  return { identity, calls };
}

function fakeCache(fail = false) {
  const invalidated: string[] = [];
  return {
    invalidated,
    cache: {
      read: async <T>(_k: string, load: () => Promise<T>) => ({ value: await load(), source: 'db' as const }),
      invalidate: async (keys: readonly string[]) => {
        if (fail) throw new Error('redis down');
        invalidated.push(...keys);
      },
      invalidateBestEffort: async () => undefined,
    },
  };
}

const profile = (userId: string, email: string): UserProfile => ({ userId, email, createdAt: '2026-11-30T00:00:00Z' });

/** These cases have no Stripe customer; the integration test covers the customer's email following the change. */
const noBilling = { updateCustomerEmail: async () => undefined };
/** No Ko-fi supporter among these addresses. */
const noKofi = { supporters: { claimGrant: async () => ({ outcome: 'none' as const }) }, entitlements: { applyKofiGrant: async () => 'written' as const } };

describe('createProfileOwningEmail (sign-up)', () => {
  it('refuses an address whose holder still holds it in Cognito', async () => {
    const { store } = fakeStore();
    await store.createIfAbsent(profile('a', 'x@example.com'));
    const { identity } = fakeIdentity({ a: 'x@example.com' });
    await expect(createProfileOwningEmail({ users: store, identity, cache: fakeCache().cache }, profile('b', 'x@example.com'))).rejects.toBeInstanceOf(EmailTakenError);
  });

  it("takes the address over from a holder Cognito no longer confirms, drops its cached answer, and survives a Redis outage", async () => {
    const { store, owners, profiles } = fakeStore();
    await store.createIfAbsent(profile('a', 'x@example.com'));
    const { identity } = fakeIdentity({ a: 'moved@example.com' });
    const { cache, invalidated } = fakeCache();
    await expect(createProfileOwningEmail({ users: store, identity, cache }, profile('b', 'x@example.com'))).resolves.toBe(true);
    expect(owners.get('x@example.com')).toBe('b');
    expect(profiles.get('a')?.email).toBeUndefined();
    expect(invalidated).toEqual(['premium:v1:x@example.com']);

    await store.createIfAbsent(profile('c', 'y@example.com'));
    const down = fakeCache(true).cache;
    await expect(createProfileOwningEmail({ users: store, identity: fakeIdentity({ c: null }).identity, cache: down }, profile('d', 'y@example.com'))).resolves.toBe(true);
    expect(owners.get('y@example.com')).toBe('d');
  });
});

describe('startEmailChange', () => {
  it('refuses an address another account holds, before asking Cognito, and records nothing', async () => {
    const { store, profiles } = fakeStore();
    await store.createIfAbsent(profile('a', 'a@example.com'));
    await store.createIfAbsent(profile('b', 'b@example.com'));
    const { identity, calls } = fakeIdentity({ a: 'a@example.com', b: 'b@example.com' });
    const deps: EmailChangeDeps = { users: store, identity, cache: fakeCache().cache, billing: noBilling, kofi: noKofi };
    await expect(startEmailChange(deps, 'a', ' B@Example.com ')).rejects.toBeInstanceOf(EmailTakenError);
    expect(calls).toEqual([]);
    expect(profiles.get('a')?.pendingEmail).toBeUndefined();
  });

  it('records no pending change when Cognito fails', async () => {
    const { store, profiles } = fakeStore();
    await store.createIfAbsent(profile('a', 'a@example.com'));
    const identity: EmailIdentity = { ...fakeIdentity({}).identity, requestEmailChange: async () => Promise.reject(new Error('cognito down')) };
    await expect(startEmailChange({ users: store, identity, cache: fakeCache().cache, billing: noBilling, kofi: noKofi }, 'a', 'new@example.com')).rejects.toThrow('cognito down');
    expect(profiles.get('a')?.pendingEmail).toBeUndefined();
  });
});

describe('two changes to one address at once', () => {
  it('the second verification respects a claim still in flight (409); a sign-up Cognito confirmed does not', async () => {
    const { store, owners } = fakeStore();
    for (const id of ['a', 'b']) {
      await store.createIfAbsent(profile(id, `${id}@example.com`));
      await store.setPendingEmail(id, 'both@example.com');
    }
    // a has claimed and is verifying with Cognito: its Cognito address is not the new one yet.
    await store.claim('a', 'both@example.com');
    const { identity } = fakeIdentity({ a: 'a@example.com', b: 'b@example.com' });
    const deps: EmailChangeDeps = { users: store, identity, cache: fakeCache().cache, billing: noBilling, kofi: noKofi };
    await expect(confirmEmailChange(deps, { userId: 'b', accessToken: 't' }, '1')).rejects.toBeInstanceOf(EmailTakenError);
    expect(owners.get('both@example.com')).toBe('a');

    await expect(createProfileOwningEmail({ users: store, identity, cache: fakeCache().cache }, profile('c', 'both@example.com'))).resolves.toBe(true);
    expect(owners.get('both@example.com')).toBe('c');
  });
});

describe('confirmEmailChange', () => {
  async function pending() {
    const s = fakeStore();
    await s.store.createIfAbsent(profile('a', 'a@example.com'));
    await s.store.setPendingEmail('a', 'new@example.com');
    return s;
  }

  it('gives the claim back on a wrong code and changes nothing', async () => {
    const { store, owners, profiles } = await pending();
    const { identity } = fakeIdentity({ a: 'a@example.com' }, async () => 'invalid-code');
    const { cache, invalidated } = fakeCache();
    await expect(confirmEmailChange({ users: store, identity, cache, billing: noBilling, kofi: noKofi }, { userId: 'a', accessToken: 't' }, '1')).rejects.toBeInstanceOf(InvalidEmailCodeError);
    expect(owners.has('new@example.com')).toBe(false);
    expect(profiles.get('a')).toMatchObject({ email: 'a@example.com', pendingEmail: 'new@example.com' });
    expect(invalidated).toEqual([]);
  });

  it('answers 401 (not 500) when Cognito refuses a revoked access token, gives the claim back and changes nothing', async () => {
    // Regression (review): NotAuthorizedException fell through to a generic 500 and kept the claim.
    const { store, owners, profiles } = await pending();
    const { identity } = fakeIdentity({ a: 'a@example.com' }, async () => 'token-refused');
    const { cache } = fakeCache();
    const refused = confirmEmailChange({ users: store, identity, cache, billing: noBilling, kofi: noKofi }, { userId: 'a', accessToken: 'revoked' }, '123456');
    await expect(refused).rejects.toBeInstanceOf(EmailTokenRefusedError);
    expect(errorPolicy.toHttpError(await refused.catch((e: unknown) => e))).toMatchObject({ statusCode: 401, code: 'unauthorized' });
    expect(owners.has('new@example.com')).toBe(false);
    expect(profiles.get('a')).toMatchObject({ email: 'a@example.com', pendingEmail: 'new@example.com' });
  });

  it('keeps the claim when Cognito fails mid-verification, and a retry completes without a second code check', async () => {
    const { store, owners, profiles } = await pending();
    const cognito: Record<string, string | null> = { a: 'a@example.com' };
    const { identity, calls } = fakeIdentity(cognito, async () => {
      cognito.a = 'new@example.com'; // Cognito verified it, then the answer was lost
      throw new Error('socket hang up');
    });
    const { cache, invalidated } = fakeCache();
    const deps: EmailChangeDeps = { users: store, identity, cache, billing: noBilling, kofi: noKofi };
    await expect(confirmEmailChange(deps, { userId: 'a', accessToken: 't' }, '123456')).rejects.toThrow('socket hang up');
    expect(owners.get('new@example.com')).toBe('a');
    expect(profiles.get('a')?.email).toBe('a@example.com');

    await expect(confirmEmailChange(deps, { userId: 'a', accessToken: 't' }, '123456')).resolves.toEqual({ email: 'new@example.com' });
    expect(calls.filter((c) => c === 'confirm')).toHaveLength(1);
    expect(profiles.get('a')).toEqual(profile('a', 'new@example.com'));
    expect([...owners]).toEqual([['new@example.com', 'a']]);
    expect(invalidated.sort()).toEqual(['premium:v1:a@example.com', 'premium:v1:new@example.com']);
  });
  it("a verified address brings its unowned Ko-fi grant onto the account, claimed for it", async () => {
    const { store } = await pending();
    const { identity } = fakeIdentity({ a: 'a@example.com' });
    const { cache, invalidated } = fakeCache();
    const grant = { plan: 'pro', paidThrough: '2027-01-02T12:00:00.000Z', paymentId: 'm1' };
    const applied: unknown[] = [];
    const claims: string[] = [];
    const kofi = {
      supporters: {
        claimGrant: async (email: string, userId: string) => {
          claims.push(`${email} ${userId}`);
          return email === 'new@example.com' ? { outcome: 'claimed' as const, grant: { ...grant, ownerUserId: userId } } : { outcome: 'none' as const };
        },
      },
      entitlements: { applyKofiGrant: async (...args: unknown[]) => (applied.push(args), 'written' as const) },
    };
    await expect(confirmEmailChange({ users: store, identity, cache, billing: noBilling, kofi }, { userId: 'a', accessToken: 't' }, '123456')).resolves.toEqual({ email: 'new@example.com' });
    expect(claims).toEqual(['new@example.com a']);
    expect(applied).toEqual([['a', 'new@example.com', { ...grant, ownerUserId: 'a' }, { kind: 'kofi', ref: 'm1' }]]);
    expect(invalidated.sort()).toEqual(['entitlement:v1:a', 'premium:v1:a@example.com', 'premium:v1:new@example.com']);
  });

  it("a verified address whose Ko-fi grant another account owns brings nothing", async () => {
    const { store } = await pending();
    const { identity } = fakeIdentity({ a: 'a@example.com' });
    const applied: unknown[] = [];
    const kofi = {
      supporters: { claimGrant: async () => ({ outcome: 'owned' as const, ownerUserId: 'someone-else' }) },
      entitlements: { applyKofiGrant: async (...args: unknown[]) => (applied.push(args), 'written' as const) },
    };
    await expect(confirmEmailChange({ users: store, identity, cache: fakeCache().cache, billing: noBilling, kofi }, { userId: 'a', accessToken: 't' }, '123456')).resolves.toEqual({ email: 'new@example.com' });
    expect(applied).toEqual([]);
  });
});
