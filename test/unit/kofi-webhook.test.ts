import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_KOFI_RULES, type KofiGrant, type KofiPaymentRecord } from '../../shared/domain/kofi';
import type { ChangeCause } from '../../shared/domain/entitlement-events';
import { DependencyUnavailable } from '../../shared/ports/errors';
import type { UserProfile } from '../../shared/ports/users';
import { receiveKofiPayment, type KofiWebhookDeps } from '../../shared/use-cases/kofi-webhook';
import { apiEvent, noContext } from '../fixtures/handlers';

/** The handler module builds its default instance on import: the environment names what it reads (nothing connects). */
Object.assign(process.env, {
  AWS_REGION: 'us-east-1',
  TABLE_USERS: 'users',
  TABLE_ENTITLEMENTS: 'entitlements',
  TABLE_LEDGER: 'ledger',
  TABLE_IDEMPOTENCY: 'idempotency',
  TABLE_API_KEYS: 'api-keys',
  TABLE_EMAIL_OWNERS: 'email-owners',
  TABLE_KOFI: 'kofi',
  CATALOGUE_ENVIRONMENT: 'local',
  REDIS_DISABLED: 'true',
  KOFI_VERIFICATION_TOKEN: 'unit-token',
});
// eslint-disable-next-line @typescript-eslint/no-require-imports -- after the environment above
const { createKofiWebhookHandler } = require('../../lambdas/kofi-webhook/handler') as typeof import('../../lambdas/kofi-webhook/handler');

const TOKEN = '8c8d4d1f-7c43-4a8c-9d4b-0c4d2b6f5e1a';
const fixture = (name: string, changes: Record<string, unknown> = {}) =>
  JSON.stringify({ ...JSON.parse(readFileSync(join(__dirname, '..', 'fixtures', 'kofi', `${name}.json`), 'utf8')), ...changes });

/** In-memory ports, recording every write, with the adapters' monotonic rules. */
function fakes(options: { owner?: UserProfile; failOn?: string } = {}) {
  const writes: string[] = [];
  const grants = new Map<string, KofiGrant>();
  const payments = new Map<string, KofiPaymentRecord>();
  const processed = new Set<string>();
  const rows = new Map<string, { grant: KofiGrant; cause: ChangeCause }>();
  const invalidated: string[][] = [];
  const fail = (step: string) => {
    if (options.failOn === step) throw new DependencyUnavailable('dynamodb', 'timeout');
  };
  const deps: KofiWebhookDeps = {
    verificationToken: async () => TOKEN,
    rules: DEFAULT_KOFI_RULES,
    supporters: {
      grantOf: async (email) => grants.get(email),
      extendGrant: async (email, grant) => {
        fail('extendGrant');
        writes.push(`grant ${email}`);
        const stored = grants.get(email);
        if (stored && stored.paidThrough >= grant.paidThrough) return 'unchanged';
        grants.set(email, grant);
        return 'extended';
      },
      recordPayment: async (email, record) => {
        writes.push(`payment ${email}`);
        payments.set(`${email}/${record.messageId}`, record);
      },
      purge: async () => undefined,
    },
    users: { findByEmail: async (email) => (options.owner?.email === email ? options.owner : undefined) },
    entitlements: {
      applyKofiGrant: async (userId, grant, cause) => {
        fail('applyKofiGrant');
        const row = rows.get(userId);
        if (row && row.grant.paidThrough >= grant.paidThrough) return 'unchanged';
        writes.push(`row ${userId}`);
        rows.set(userId, { grant, cause });
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
  return { deps, writes, grants, payments, processed, rows, invalidated };
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
    expect(f.grants.get('someone@example.com')).toEqual({ plan: 'pro', paidThrough: '2027-01-02T12:00:00.000Z', paymentId: '3a1fac0c-f960-4506-a60e-824979a74e74' });
    expect(f.invalidated).toEqual([['premium:v1:someone@example.com']]);
    // The delivery ids last: a failure before them lets Ko-fi's retry run it again.
    expect(f.writes.slice(-2)).toEqual(['processed message:3a1fac0c-f960-4506-a60e-824979a74e74', 'processed transaction:0a1fac0c-f960-4506-a60e-824979a74e71']);
  });

  it('with an account owning the email: the grant goes onto its row with cause kofi, both caches cleared', async () => {
    const f = fakes({ owner: { userId: 'u1', email: 'someone@example.com', createdAt: 'x' } });
    await expect(receiveKofiPayment(f.deps, fixture('subscription'))).resolves.toMatchObject({ handled: 'granted', account: true });
    expect(f.rows.get('u1')).toEqual({ grant: expect.objectContaining({ plan: 'pro' }), cause: { kind: 'kofi', ref: '3a1fac0c-f960-4506-a60e-824979a74e74' } });
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

  it.each(['extendGrant', 'applyKofiGrant', 'invalidate'])('a failure at %s throws before the delivery is recorded, and the retry completes it', async (step) => {
    const owner = { userId: 'u1', email: 'someone@example.com', createdAt: 'x' };
    const failing = fakes({ owner, failOn: step });
    await expect(receiveKofiPayment(failing.deps, fixture('subscription'))).rejects.toBeInstanceOf(DependencyUnavailable);
    expect(failing.processed.size).toBe(0);
    // Ko-fi's retry, the dependency back.
    const retry = fakes({ owner });
    await expect(receiveKofiPayment(retry.deps, fixture('subscription'))).resolves.toMatchObject({ handled: 'granted', account: true });
  });

  it('a token that cannot be read is a dependency failure (503, Ko-fi retries), with nothing written', async () => {
    const f = fakes();
    f.deps.verificationToken = async () => Promise.reject(new DependencyUnavailable('secrets-manager', 'timeout'));
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
    const invalid = await handler(post(form(fixture('subscription', { amount: 'lots' }))), noContext);
    expect({ status: invalid.statusCode, message: JSON.parse(invalid.body).error.message }).toEqual({ status: 400, message: expect.stringMatching(/^data\.amount:/) });
    const down = createKofiWebhookHandler(fakes({ failOn: 'extendGrant' }).deps);
    expect((await down(post(form(fixture('subscription'))), noContext)).statusCode).toBe(503);
  });
});
