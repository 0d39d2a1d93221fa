import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_KOFI_RULES, type KofiGrant, type KofiPaymentRecord } from '../../shared/domain/kofi';
import type { ChangeCause } from '../../shared/domain/entitlement-events';
import { RotatingSecret } from '../../shared/adapters/secrets';
import { DependencyUnavailable } from '../../shared/ports/errors';
import type { UserProfile } from '../../shared/ports/users';
import { receiveKofiPayment, type KofiWebhookDeps } from '../../shared/use-cases/kofi-webhook';
import { logger } from '../../shared/observability/logger';
import { metrics } from '../../shared/observability/metrics';
import { apiEvent, noContext, UNIT_HANDLER_ENV } from '../fixtures/handlers';

/** The handler module builds its default instance on import: the environment names what it reads (nothing connects). */
Object.assign(process.env, {
  ...UNIT_HANDLER_ENV,
  KOFI_VERIFICATION_TOKEN: 'unit-token',
});
// eslint-disable-next-line @typescript-eslint/no-require-imports -- after the environment above
const { createKofiWebhookHandler } = require('../../lambdas/kofi-webhook/handler') as typeof import('../../lambdas/kofi-webhook/handler');

const TOKEN = '8c8d4d1f-7c43-4a8c-9d4b-0c4d2b6f5e1a';
const fixture = (name: string, changes: Record<string, unknown> = {}) =>
  JSON.stringify({ ...JSON.parse(readFileSync(join(__dirname, '..', 'fixtures', 'kofi', `${name}.json`), 'utf8')), ...changes });

/** In-memory ports, recording every write, with the adapters' monotonic and claim rules. `faults.failOn` can be changed (a dependency back). */
function fakes(options: { owner?: UserProfile; failOn?: string; token?: string } = {}) {
  const writes: string[] = [];
  const grants = new Map<string, KofiGrant>();
  const payments = new Map<string, KofiPaymentRecord>();
  const processed = new Set<string>();
  const rows = new Map<string, { grant: KofiGrant; cause: ChangeCause; emails: string[] }>();
  const invalidated: string[][] = [];
  const faults = { failOn: options.failOn };
  const secret = { value: options.token ?? TOKEN, reads: 0, rereadAllowed: true };
  const fail = (step: string) => {
    if (faults.failOn === step) throw new DependencyUnavailable('dynamodb', 'timeout');
  };
  const deps: KofiWebhookDeps = {
    verificationToken: {
      current: async () => secret.value,
      reread: async () => {
        if (!secret.rereadAllowed) return undefined;
        secret.reads++;
        return secret.value;
      },
    },
    rules: DEFAULT_KOFI_RULES,
    supporters: {
      grantOf: async (email) => grants.get(email),
      extendGrant: async (email, grant) => {
        fail('extendGrant');
        writes.push(`grant ${email}`);
        const stored = grants.get(email);
        if (stored && stored.paidThrough >= grant.paidThrough) return 'unchanged';
        grants.set(email, { ...grant, ...(stored?.ownerUserId ? { ownerUserId: stored.ownerUserId } : {}) });
        return 'extended';
      },
      claimGrant: async (email, userId) => {
        fail('claimGrant');
        const stored = grants.get(email);
        if (!stored) return { outcome: 'none' };
        if (stored.ownerUserId && stored.ownerUserId !== userId) return { outcome: 'owned', ownerUserId: stored.ownerUserId };
        writes.push(`claim ${email} ${userId}`);
        const claimed = { ...stored, ownerUserId: userId };
        grants.set(email, claimed);
        return { outcome: 'claimed', grant: claimed };
      },
      recordPayment: async (email, record) => {
        writes.push(`payment ${email}`);
        payments.set(`${email}/${record.messageId}`, record);
      },
      purge: async () => undefined,
    },
    users: { findByEmail: async (email) => (options.owner?.email === email ? options.owner : undefined) },
    entitlements: {
      applyKofiGrant: async (userId, email, grant, cause) => {
        fail('applyKofiGrant');
        const row = rows.get(userId);
        const emails = [...new Set([...(row?.emails ?? []), email])];
        if (row && row.grant.paidThrough >= grant.paidThrough) {
          row.emails = emails;
          return 'unchanged';
        }
        writes.push(`row ${userId}`);
        rows.set(userId, { grant, cause, emails });
        return 'written';
      },
    },
    processed: {
      seen: async (id) => processed.has(id),
      record: async (id) => {
        writes.push(`processed ${id}`);
        processed.add(id);
      },
    },
    cache: {
      invalidate: async (keys) => {
        fail('invalidate');
        invalidated.push([...keys]);
      },
    },
    now: () => new Date('2026-11-30T12:00:05Z'),
  };
  return { deps, writes, grants, payments, processed, rows, invalidated, faults, secret };
}

describe('receiveKofiPayment', () => {
  it('refuses a wrong, missing or non-string token with nothing written', async () => {
    for (const data of [fixture('subscription', { verification_token: 'guess' }), fixture('subscription', { verification_token: undefined }), fixture('subscription', { verification_token: 42 })]) {
      const f = fakes();
      await expect(receiveKofiPayment(f.deps, data)).resolves.toEqual({ outcome: 'refused' });
      expect(f.writes).toEqual([]);
      expect(f.invalidated).toEqual([]);
    }
  });

  it('refuses an invalid payment only once the token held (an outsider learns nothing about the fields)', async () => {
    const bad = { email: 'not-an-email' };
    await expect(receiveKofiPayment(fakes().deps, fixture('subscription', { ...bad, verification_token: 'guess' }))).resolves.toEqual({ outcome: 'refused' });
    const f = fakes();
    await expect(receiveKofiPayment(f.deps, fixture('subscription', bad))).resolves.toMatchObject({ outcome: 'invalid', message: expect.stringMatching(/^data\.email:/) });
    await expect(receiveKofiPayment(f.deps, '{oops')).resolves.toMatchObject({ outcome: 'invalid', message: expect.stringMatching(/^data:/) });
    expect(f.writes).toEqual([]);
  });

  it('a subscription payment without an account: records it, grants the email, clears its cached premium answer', async () => {
    const f = fakes();
    const result = await receiveKofiPayment(f.deps, fixture('subscription'));
    expect(result).toMatchObject({ outcome: 'handled', handled: 'granted', account: false });
    // Tier "Gold" is not in the default rules: the lowest paid premium plan, never a richer one.
    expect(f.grants.get('someone@example.com')).toEqual({ plan: 'basic', paidThrough: '2027-01-02T12:00:00.000Z', paymentId: '3a1fac0c-f960-4506-a60e-824979a74e74' });
    expect(f.invalidated).toEqual([['premium:v1:someone@example.com']]);
    // The delivery ids last: a failure before them lets Ko-fi's retry run it again.
    expect(f.writes.slice(-2)).toEqual(['processed message:3a1fac0c-f960-4506-a60e-824979a74e74', 'processed transaction:0a1fac0c-f960-4506-a60e-824979a74e71']);
  });

  it('with an account owning the email: the grant goes onto its row with cause kofi, both caches cleared', async () => {
    const f = fakes({ owner: { userId: 'u1', email: 'someone@example.com', createdAt: 'x' } });
    await expect(receiveKofiPayment(f.deps, fixture('subscription'))).resolves.toMatchObject({ handled: 'granted', account: true });
    expect(f.rows.get('u1')).toEqual({ grant: expect.objectContaining({ plan: 'basic' }), cause: { kind: 'kofi', ref: '3a1fac0c-f960-4506-a60e-824979a74e74' }, emails: ['someone@example.com'] });
    expect(f.grants.get('someone@example.com')?.ownerUserId).toBe('u1');
    expect(f.invalidated).toEqual([['premium:v1:someone@example.com', 'entitlement:v1:u1']]);
  });

  it('an account being deleted gets nothing on its row (the email grant is still recorded)', async () => {
    const f = fakes({ owner: { userId: 'u1', email: 'someone@example.com', createdAt: 'x', deletingAt: 'y' } });
    await expect(receiveKofiPayment(f.deps, fixture('subscription'))).resolves.toMatchObject({ account: false });
    expect(f.rows.size).toBe(0);
  });

  it('a replay (same message id, or same transaction id) is a duplicate: nothing written, nothing extended', async () => {
    const f = fakes();
    await receiveKofiPayment(f.deps, fixture('subscription'));
    const writes = f.writes.length;
    await expect(receiveKofiPayment(f.deps, fixture('subscription'))).resolves.toMatchObject({ handled: 'duplicate' });
    await expect(receiveKofiPayment(f.deps, fixture('subscription', { message_id: 'another-delivery' }))).resolves.toMatchObject({ handled: 'duplicate' });
    expect(f.writes).toHaveLength(writes);
  });

  it('the next month renews from its own timestamp; a late, older payment never shortens the grant', async () => {
    const f = fakes({ owner: { userId: 'u1', email: 'someone@example.com', createdAt: 'x' } });
    const renewal = { message_id: 'm2', kofi_transaction_id: 't2', timestamp: '2026-12-30T12:00:00Z', is_first_subscription_payment: false };
    await receiveKofiPayment(f.deps, fixture('subscription', renewal));
    expect(f.grants.get('someone@example.com')?.paidThrough).toBe('2027-02-02T12:00:00.000Z');
    await receiveKofiPayment(f.deps, fixture('subscription'));
    expect(f.grants.get('someone@example.com')?.paidThrough).toBe('2027-02-02T12:00:00.000Z');
    expect(f.rows.get('u1')?.grant.paidThrough).toBe('2027-02-02T12:00:00.000Z');
  });

  it.each(['donation', 'shop-order'])('a %s is recorded only: no grant, no row, no cache change', async (name) => {
    const f = fakes({ owner: { userId: 'u1', email: 'someone@example.com', createdAt: 'x' } });
    await expect(receiveKofiPayment(f.deps, fixture(name))).resolves.toMatchObject({ handled: 'recorded' });
    expect(f.payments.size).toBe(1);
    expect(f.grants.size).toBe(0);
    expect(f.rows.size).toBe(0);
    expect(f.invalidated).toEqual([]);
  });

  it.each(['extendGrant', 'claimGrant', 'applyKofiGrant', 'invalidate'])('a failure at %s throws before the delivery is recorded, and the retry on the state it left completes it', async (step) => {
    const owner = { userId: 'u1', email: 'someone@example.com', createdAt: 'x' };
    const f = fakes({ owner, failOn: step });
    await expect(receiveKofiPayment(f.deps, fixture('subscription'))).rejects.toBeInstanceOf(DependencyUnavailable);
    expect(f.processed.size).toBe(0);
    // Ko-fi's retry on what the failed attempt left (the grant may already be extended: 'unchanged'), the dependency back.
    f.faults.failOn = undefined;
    await expect(receiveKofiPayment(f.deps, fixture('subscription'))).resolves.toMatchObject({ handled: 'granted', account: true });
    expect(f.rows.get('u1')?.grant.paidThrough).toBe('2027-01-02T12:00:00.000Z');
    expect(f.invalidated).toContainEqual(['premium:v1:someone@example.com', 'entitlement:v1:u1']);
    expect(f.processed.size).toBe(2);
  });

  it('a renewal paid as the old address goes to the account that owns the grant, whatever its email is now', async () => {
    // u1 paid as a@x, then moved to b@x: findByEmail(a@x) finds nobody, the grant still names u1.
    const f = fakes({ owner: { userId: 'u2', email: 'other@example.com', createdAt: 'x' } });
    f.grants.set('someone@example.com', { plan: 'basic', paidThrough: '2026-12-01T00:00:00.000Z', paymentId: 'm0', ownerUserId: 'u1' });
    await expect(receiveKofiPayment(f.deps, fixture('subscription'))).resolves.toMatchObject({ handled: 'granted', account: true });
    expect(f.rows.get('u1')?.grant).toEqual({ plan: 'basic', paidThrough: '2027-01-02T12:00:00.000Z', paymentId: '3a1fac0c-f960-4506-a60e-824979a74e74', ownerUserId: 'u1' });
    expect(f.invalidated).toEqual([['premium:v1:someone@example.com', 'entitlement:v1:u1']]);
  });

  it('a grant another account owns is never claimed by the account holding the address now', async () => {
    const f = fakes({ owner: { userId: 'u2', email: 'someone@example.com', createdAt: 'x' } });
    f.grants.set('someone@example.com', { plan: 'basic', paidThrough: '2026-12-01T00:00:00.000Z', paymentId: 'm0', ownerUserId: 'u1' });
    await receiveKofiPayment(f.deps, fixture('subscription'));
    expect(f.grants.get('someone@example.com')?.ownerUserId).toBe('u1');
    expect([...f.rows.keys()]).toEqual(['u1']);
  });

  it('a subscription with an unknown or no tier gets the lowest premium plan, and an unknown tier is logged without personal data', async () => {
    const warn = jest.spyOn(logger, 'warn').mockImplementation(() => undefined);
    try {
      const f = fakes();
      await receiveKofiPayment(f.deps, fixture('subscription', { tier_name: 'constructor' }));
      expect(f.grants.get('someone@example.com')?.plan).toBe('basic');
      expect(warn).toHaveBeenCalledWith('Ko-fi tier not in the rules: the default plan was granted', expect.objectContaining({ tierName: 'constructor', plan: 'basic' }));
      expect(JSON.stringify(warn.mock.calls)).not.toMatch(/someone@example\.com|Ko-fi Team/i);
      warn.mockClear();
      // "Make this monthly" on a donation: type Subscription, tier_name null.
      const g = fakes();
      await receiveKofiPayment(g.deps, fixture('subscription', { tier_name: null }));
      expect(g.grants.get('someone@example.com')?.plan).toBe('basic');
      expect(warn).not.toHaveBeenCalled();
    } finally {
      warn.mockRestore();
    }
  });

  it('payments whose non-deciding fields Ko-fi formats its own way are recorded, not lost', async () => {
    const f = fakes();
    await expect(receiveKofiPayment(f.deps, fixture('subscription', { amount: '1,000.00', timestamp: '2026-11-30T12:00:00' }))).resolves.toMatchObject({ handled: 'granted' });
    expect(f.grants.get('someone@example.com')?.paidThrough).toBe('2027-01-02T12:00:00.000Z');
    expect(f.payments.get('someone@example.com/3a1fac0c-f960-4506-a60e-824979a74e74')).toMatchObject({ amount: '1,000.00', paidAt: '2026-11-30T12:00:00.000Z' });
    const g = fakes();
    await expect(receiveKofiPayment(g.deps, fixture('donation', { email: null }))).resolves.toMatchObject({ handled: 'recorded' });
    expect(g.payments.size).toBe(1);
    await expect(receiveKofiPayment(g.deps, fixture('subscription', { email: null }))).resolves.toMatchObject({ outcome: 'invalid', message: expect.stringMatching(/^data\.email:/) });
  });

  it('re-reads our token after a mismatch (a rotation reaches a warm function), at most as often as the source allows', async () => {
    const f = fakes({ token: 'old-token' });
    f.secret.value = 'old-token';
    // Ops rotated: the source now holds TOKEN, the process still the old one.
    f.deps.verificationToken.current = async () => 'old-token';
    f.secret.value = TOKEN;
    await expect(receiveKofiPayment(f.deps, fixture('subscription'))).resolves.toMatchObject({ handled: 'granted' });
    expect(f.secret.reads).toBe(1);
    const g = fakes();
    g.secret.rereadAllowed = false;
    g.deps.verificationToken.current = async () => 'old-token';
    await expect(receiveKofiPayment(g.deps, fixture('subscription'))).resolves.toEqual({ outcome: 'refused' });
    expect(g.writes).toEqual([]);
  });

  it.each(['', '  ', 'REPLACE_ME'])('an unset token of ours (%j) refuses every delivery, even one carrying it, with an error log and the anomaly metric', async (unset) => {
    const error = jest.spyOn(logger, 'error').mockImplementation(() => undefined);
    const metric = jest.spyOn(metrics, 'addMetric');
    try {
      const f = fakes({ token: unset });
      for (const sent of [unset, 'REPLACE_ME', TOKEN]) {
        await expect(receiveKofiPayment(f.deps, fixture('subscription', { verification_token: sent }))).resolves.toEqual({ outcome: 'not-configured' });
      }
      expect(f.writes).toEqual([]);
      expect(error).toHaveBeenCalledWith(expect.stringMatching(/not configured/));
      expect(metric).toHaveBeenCalledWith('KofiTokenNotConfigured', 'Count', 1);
    } finally {
      error.mockRestore();
      metric.mockRestore();
    }
  });

  it('a token that cannot be read is a dependency failure (503, Ko-fi retries), with nothing written', async () => {
    const f = fakes();
    f.deps.verificationToken.current = async () => Promise.reject(new DependencyUnavailable('secrets-manager', 'timeout'));
    await expect(receiveKofiPayment(f.deps, fixture('subscription'))).rejects.toBeInstanceOf(DependencyUnavailable);
    expect(f.writes).toEqual([]);
  });
});

describe('the kofi-webhook handler', () => {
  const post = (body: string, headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' }, isBase64Encoded = false) =>
    apiEvent({ resource: '/kofi/webhook', httpMethod: 'POST', headers, body, isBase64Encoded });
  const form = (data: string) => new URLSearchParams({ data }).toString();

  it('reads the form (base64 from API Gateway too) and answers 200', async () => {
    const f = fakes();
    const handler = createKofiWebhookHandler(f.deps);
    const res = await handler(post(Buffer.from(form(fixture('subscription'))).toString('base64'), undefined, true), noContext);
    expect({ status: res.statusCode, body: JSON.parse(res.body) }).toEqual({ status: 200, body: { received: true } });
    expect(f.grants.size).toBe(1);
  });

  it('answers 401 for a wrong token, 400 naming the field otherwise, 503 when a dependency is down', async () => {
    const handler = createKofiWebhookHandler(fakes().deps);
    const wrong = await handler(post(form(fixture('subscription', { verification_token: 'guess' }))), noContext);
    expect({ status: wrong.statusCode, code: JSON.parse(wrong.body).error.code }).toEqual({ status: 401, code: 'unauthorized' });
    const noData = await handler(post('payload=1'), noContext);
    expect({ status: noData.statusCode, message: JSON.parse(noData.body).error.message }).toEqual({ status: 400, message: expect.stringMatching(/^data:/) });
    const json = await handler(post(fixture('subscription'), { 'content-type': 'application/json' }), noContext);
    expect(json.statusCode).toBe(400);
    const invalid = await handler(post(form(fixture('subscription', { timestamp: 'yesterday' }))), noContext);
    expect({ status: invalid.statusCode, message: JSON.parse(invalid.body).error.message }).toEqual({ status: 400, message: expect.stringMatching(/^data\.timestamp:/) });
    const down = createKofiWebhookHandler(fakes({ failOn: 'extendGrant' }).deps);
    expect((await down(post(form(fixture('subscription'))), noContext)).statusCode).toBe(503);
    // Our token unset: 503 (Ko-fi keeps retrying until ops put the token in), never 200.
    const unset = createKofiWebhookHandler(fakes({ token: 'REPLACE_ME' }).deps);
    expect((await unset(post(form(fixture('subscription', { verification_token: 'REPLACE_ME' }))), noContext)).statusCode).toBe(503);
  });
});

describe('the rotating verification token (shared/adapters/secrets.ts)', () => {
  /** A fake secret source: what ops last put in, and how often it was read. */
  function source(initial: string) {
    const state = { value: initial, reads: 0, fail: false };
    const read = async () => {
      state.reads++;
      if (state.fail) throw new DependencyUnavailable('secrets-manager', 'timeout');
      return state.value;
    };
    return { state, read };
  }

  it('keeps the value read at cold start, and re-reads after a mismatch at most once a minute', async () => {
    const { state, read } = source('old-token');
    let clock = 0;
    const secret = new RotatingSecret(read, () => clock);
    await expect(secret.current()).resolves.toBe('old-token');
    await expect(secret.current()).resolves.toBe('old-token');
    expect(state.reads).toBe(1);
    state.value = 'new-token';
    clock = 59_999;
    await expect(secret.reread()).resolves.toBeUndefined();
    expect(state.reads).toBe(1);
    clock = 60_000;
    await expect(secret.reread()).resolves.toBe('new-token');
    await expect(secret.current()).resolves.toBe('new-token');
    clock = 60_001;
    await expect(secret.reread()).resolves.toBeUndefined();
    expect(state.reads).toBe(2);
  });

  it('a failed cold-start read is retried by the next delivery, not cached', async () => {
    const { state, read } = source('tok');
    const secret = new RotatingSecret(read, () => 0);
    state.fail = true;
    await expect(secret.current()).rejects.toBeInstanceOf(DependencyUnavailable);
    state.fail = false;
    await expect(secret.current()).resolves.toBe('tok');
  });

  it('end to end through the use case: after a rotation the warm function accepts the new token (one read), and a flood of forged tokens costs one read a minute', async () => {
    const { state, read } = source('old-token');
    let clock = 0;
    const f = fakes();
    f.deps.verificationToken = new RotatingSecret(read, () => clock);
    await expect(receiveKofiPayment(f.deps, fixture('subscription', { verification_token: 'old-token' }))).resolves.toMatchObject({ handled: 'granted' });
    state.value = TOKEN;
    clock = 120_000;
    await expect(receiveKofiPayment(f.deps, fixture('subscription', { message_id: 'm2', kofi_transaction_id: 't2' }))).resolves.toMatchObject({ handled: 'granted' });
    expect(state.reads).toBe(2);
    for (let i = 0; i < 20; i++) await expect(receiveKofiPayment(f.deps, fixture('subscription', { verification_token: `forged-${i}` }))).resolves.toEqual({ outcome: 'refused' });
    expect(state.reads).toBe(2);
  });
});
