import { randomUUID } from 'node:crypto';
import { DynamoDBDocumentClient, GetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { localDynamoClient } from '../../infra/local/dynamodb';
import { kofiForm, kofiPayment, postKofiPayment, type KofiPaymentOptions } from '../../infra/local/kofi';
import type { BusEvent } from '../../infra/local/event-bus';
import type { EntitlementChanged } from '../../shared/domain/entitlement-events';
import { DynamoKofiSupporters } from '../../shared/adapters/dynamodb/kofi-supporters';
import { attributeVerificationCode, signUpAndSignIn, type TestUser } from '../fixtures/cognito';
import { api, localStack } from '../fixtures/stack';
import { entitlementsOf } from '../fixtures/subscribers';

/**
 * POST /kofi/webhook against the real local stack: Ko-fi's form post through
 * the gateway, the tables read back directly, accounts made through
 * cognito-local (whose post-confirmation trigger runs our sign-up).
 */
let docClient: DynamoDBDocumentClient | undefined;
const doc = () => (docClient ??= DynamoDBDocumentClient.from(localDynamoClient(localStack().dynamodbEndpoint)));
const env = () => localStack().handlerEnv;

const pay = (options: Omit<KofiPaymentOptions, 'verificationToken'> & { verificationToken?: string }) => {
  const payment = kofiPayment({ verificationToken: localStack().kofi.verificationToken, ...options });
  return { payment, delivered: postKofiPayment(localStack().kofi.webhookUrl, payment) };
};
const premium = async (email: string) => {
  const res = await api('/v1/premium/check', { method: 'POST', headers: { 'x-api-key': localStack().internalApiKey }, json: { email } });
  expect(res.status).toBe(200);
  return res.body.premium as boolean;
};
const kofiItems = async (email: string) =>
  (await doc().send(new QueryCommand({ TableName: env().TABLE_KOFI!, KeyConditionExpression: 'email = :e', ExpressionAttributeValues: { ':e': email }, ConsistentRead: true }))).Items ?? [];
const grantOf = async (email: string) => (await doc().send(new GetCommand({ TableName: env().TABLE_KOFI!, Key: { email, entryId: 'grant' }, ConsistentRead: true }))).Item;
const processed = async (id: string) => (await doc().send(new GetCommand({ TableName: env().TABLE_IDEMPOTENCY!, Key: { key: `kofi:${id}` }, ConsistentRead: true }))).Item;
const rowOf = async (userId: string) => (await doc().send(new GetCommand({ TableName: env().TABLE_ENTITLEMENTS!, Key: { userId }, ConsistentRead: true }))).Item;
const newEmail = (prefix: string) => `kofi-${prefix}-${randomUUID()}@example.com`;

/** The paid month (one calendar month from the payment) plus the default 3 days of grace. */
function paidThroughOf(paidAt: Date): string {
  const through = new Date(paidAt);
  through.setUTCMilliseconds(0);
  const day = through.getUTCDate();
  through.setUTCDate(1);
  through.setUTCMonth(through.getUTCMonth() + 1);
  const last = new Date(Date.UTC(through.getUTCFullYear(), through.getUTCMonth() + 1, 0)).getUTCDate();
  through.setUTCDate(Math.min(day, last));
  return new Date(through.getTime() + 3 * 86_400_000).toISOString();
}

async function eventsOf(userId: string, until: (events: EntitlementChanged[]) => boolean): Promise<EntitlementChanged[]> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const res = await fetch(`${localStack().events.busUrl}/events`);
    const events = ((await res.json()) as { events: BusEvent[] }).events.map((e) => e.detail as EntitlementChanged).filter((d) => d.userId === userId);
    if (until(events) || Date.now() > deadline) return events;
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('POST /kofi/webhook', () => {
  it('a subscription payment makes an account premium: premium check, /me/entitlements, entitlement.changed', async () => {
    const user: TestUser = await signUpAndSignIn('kofi-account');
    expect(await premium(user.email)).toBe(false);
    const paidAt = new Date();
    // Ko-fi reports the address as the supporter typed it.
    const { delivered } = pay({ email: `  ${user.email.toUpperCase()} `, tierName: 'Gold', timestamp: paidAt });
    expect(await delivered).toEqual({ status: 200, body: JSON.stringify({ received: true }) });

    expect(await premium(user.email)).toBe(true);
    const me = await entitlementsOf(user);
    expect(me.status).toBe(200);
    // "Gold" is not in the default rules: the lowest paid premium plan.
    expect(me.body).toMatchObject({ status: 'none', tier: 'basic', premium: true, accessReason: 'kofi-subscription', kofiPaidThrough: paidThroughOf(paidAt) });
    expect(await rowOf(user.sub)).toMatchObject({ kofiPlan: 'basic', kofiPaidThrough: paidThroughOf(paidAt), lastChange: { kind: 'kofi' }, kofiEmails: new Set([user.email]) });
    expect(await grantOf(user.email)).toMatchObject({ ownerUserId: user.sub });

    const events = await eventsOf(user.sub, (es) => es.some((e) => e.cause.kind === 'kofi'));
    expect(events.find((e) => e.cause.kind === 'kofi')).toMatchObject({ changed: expect.arrayContaining(['tier', 'premium']), current: { tier: 'basic', source: 'kofi', reason: 'kofi-subscription' } });
  });

  it('an email without an account is premium; when it signs up, the new account has the plan', async () => {
    const email = newEmail('later');
    // A cached "not premium" answer must not outlive the payment.
    expect(await premium(email)).toBe(false);
    const paidAt = new Date();
    const { delivered } = pay({ email, timestamp: paidAt });
    expect((await delivered).status).toBe(200);
    expect(await premium(email)).toBe(true);
    expect(await grantOf(email)).toMatchObject({ plan: 'basic', paidThrough: paidThroughOf(paidAt) });
    expect((await grantOf(email))?.ownerUserId).toBeUndefined();

    const user = await signUpAndSignIn('kofi-later', email);
    expect(await grantOf(email)).toMatchObject({ ownerUserId: user.sub });
    const me = await entitlementsOf(user);
    expect(me.body).toMatchObject({ tier: 'basic', premium: true, accessReason: 'kofi-subscription', kofiPaidThrough: paidThroughOf(paidAt) });
    expect(await premium(email)).toBe(true);
  });

  it('a wrong or missing token is refused (401) with nothing written anywhere', async () => {
    const user = await signUpAndSignIn('kofi-wrong');
    const before = await rowOf(user.sub);
    for (const verificationToken of ['not-the-token', `${localStack().kofi.verificationToken}x`, '']) {
      const { payment, delivered } = pay({ email: user.email, verificationToken });
      const res = await delivered;
      expect(res.status).toBe(401);
      expect(JSON.parse(res.body)).toMatchObject({ error: { code: 'unauthorized' } });
      expect(await processed(`message:${String(payment.message_id)}`)).toBeUndefined();
      expect(await processed(`transaction:${String(payment.kofi_transaction_id)}`)).toBeUndefined();
    }
    // No token at all.
    const bare = kofiPayment({ email: user.email, verificationToken: 'x' });
    delete bare.verification_token;
    const res = await fetch(localStack().kofi.webhookUrl, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: kofiForm(bare) });
    expect(res.status).toBe(401);

    expect(await kofiItems(user.email)).toEqual([]);
    expect(await rowOf(user.sub)).toEqual(before);
    expect(await premium(user.email)).toBe(false);
  });

  it('malformed deliveries are 400s naming the field, and change nothing', async () => {
    const email = newEmail('malformed');
    const post = (body: string, contentType = 'application/x-www-form-urlencoded') =>
      fetch(localStack().kofi.webhookUrl, { method: 'POST', headers: { 'content-type': contentType }, body });
    const noData = await post('payload=1');
    expect(noData.status).toBe(400);
    expect(((await noData.json()) as { error: { message: string } }).error.message).toMatch(/^data:/);
    const notJson = await post(new URLSearchParams({ data: '{not json' }).toString());
    expect(notJson.status).toBe(400);
    const badTime = await post(kofiForm({ ...kofiPayment({ email, verificationToken: localStack().kofi.verificationToken }), timestamp: 'yesterday' }));
    expect(badTime.status).toBe(400);
    expect(((await badTime.json()) as { error: { message: string } }).error.message).toMatch(/^data\.timestamp:/);
    const noEmail = await post(kofiForm({ ...kofiPayment({ email, verificationToken: localStack().kofi.verificationToken }), email: null }));
    expect(noEmail.status).toBe(400);
    expect(((await noEmail.json()) as { error: { message: string } }).error.message).toMatch(/^data\.email:/);
    expect(await kofiItems(email)).toEqual([]);
  });

  it('fields that decide nothing never lose a payment: "1,000.00", a zone-less timestamp (UTC), a donation without an email', async () => {
    const email = newEmail('lenient');
    const paidAt = new Date(Math.floor(Date.now() / 1000) * 1000);
    const base = kofiPayment({ email, verificationToken: localStack().kofi.verificationToken, timestamp: paidAt });
    const payment = { ...base, amount: '1,000.00', timestamp: String(base.timestamp).replace(/Z$/, '') };
    expect((await postKofiPayment(localStack().kofi.webhookUrl, payment)).status).toBe(200);
    expect(await grantOf(email)).toMatchObject({ paidThrough: paidThroughOf(paidAt) });
    expect((await kofiItems(email)).find((i) => String(i.entryId).startsWith('payment#'))).toMatchObject({ amount: '1,000.00', paidAt: paidAt.toISOString() });
    const donation: Record<string, unknown> = { ...kofiPayment({ email, verificationToken: localStack().kofi.verificationToken, type: 'Donation' }), email: null };
    expect((await postKofiPayment(localStack().kofi.webhookUrl, donation)).status).toBe(200);
    expect(await processed(`message:${String(donation.message_id)}`)).toBeDefined();
  });

  it('a replay (same message id) never extends twice', async () => {
    const user = await signUpAndSignIn('kofi-replay');
    const paidAt = new Date();
    const { payment, delivered } = pay({ email: user.email, timestamp: paidAt });
    expect((await delivered).status).toBe(200);
    const once = await rowOf(user.sub);

    // Ko-fi retries with the same message id (here even with a later timestamp: still the same delivery).
    for (const timestamp of [paidAt, new Date(paidAt.getTime() + 40 * 86_400_000)]) {
      const again = await postKofiPayment(localStack().kofi.webhookUrl, { ...payment, timestamp: timestamp.toISOString().replace(/\.\d{3}Z$/, 'Z') });
      expect(again.status).toBe(200);
    }
    expect(await grantOf(user.email)).toMatchObject({ paidThrough: paidThroughOf(paidAt) });
    const row = await rowOf(user.sub);
    expect(row?.kofiPaidThrough).toBe(paidThroughOf(paidAt));
    expect(row?.updatedAt).toBe(once?.updatedAt);
    expect((await kofiItems(user.email)).filter((i) => String(i.entryId).startsWith('payment#'))).toHaveLength(1);
  });

  it('a donation (and a shop order) is recorded and changes nothing', async () => {
    const user = await signUpAndSignIn('kofi-donation');
    const before = await rowOf(user.sub);
    for (const type of ['Donation', 'Shop Order'] as const) {
      const { delivered } = pay({ email: user.email, type });
      expect((await delivered).status).toBe(200);
    }
    expect(await premium(user.email)).toBe(false);
    expect(await rowOf(user.sub)).toEqual(before);
    const items = await kofiItems(user.email);
    expect(items.map((i) => i.type).sort()).toEqual(['Donation', 'Shop Order']);
    expect(items.every((i) => String(i.entryId).startsWith('payment#') && i.grant === null)).toBe(true);
    expect((await entitlementsOf(user)).body).toMatchObject({ tier: 'free', premium: false });
  });

  it("deleting the account purges the email's Ko-fi records with the rest", async () => {
    const user = await signUpAndSignIn('kofi-delete');
    expect((await pay({ email: user.email }).delivered).status).toBe(200);
    expect((await kofiItems(user.email)).length).toBe(2);
    const deleted = await api('/me/account', { method: 'DELETE', headers: { authorization: `Bearer ${user.accessToken}` } });
    expect(deleted.status).toBe(200);
    expect(deleted.body).toMatchObject({ deleted: true });
    expect(await kofiItems(user.email)).toEqual([]);
    expect(await premium(user.email)).toBe(false);
  });

  describe('a grant belongs to the account it attached to', () => {
    const me = (user: TestUser, path: string, json: unknown) => api(path, { method: 'POST', headers: { authorization: `Bearer ${user.accessToken}` }, json });
    async function changeEmail(user: TestUser, to: string) {
      expect(await me(user, '/me/email', { email: to })).toMatchObject({ status: 202 });
      expect(await me(user, '/me/email/verify', { code: attributeVerificationCode(user) })).toMatchObject({ status: 200, body: { email: to } });
    }
    const deleteAccount = async (user: TestUser) =>
      expect(await api('/me/account', { method: 'DELETE', headers: { authorization: `Bearer ${user.accessToken}` } })).toMatchObject({ status: 200, body: { deleted: true } });

    it("the reviewer's repro: one payment never makes a second account premium, and the payer keeps it across an email change", async () => {
      const a = newEmail('payer-a');
      const b = newEmail('payer-b');
      const paidAt = new Date();
      expect((await pay({ email: a, timestamp: paidAt }).delivered).status).toBe(200);
      const first = await signUpAndSignIn('kofi-first', a);
      expect((await entitlementsOf(first)).body).toMatchObject({ premium: true, accessReason: 'kofi-subscription' });

      await changeEmail(first, b);
      // The paying account is still premium at its new address; the bare old address is not (its grant is owned).
      expect(await premium(b)).toBe(true);
      expect(await premium(a)).toBe(false);

      const second = await signUpAndSignIn('kofi-second', a);
      expect((await entitlementsOf(second)).body).toMatchObject({ premium: false, tier: 'free' });
      expect(await premium(a)).toBe(false);
      expect((await rowOf(second.sub))?.kofiPaidThrough).toBeUndefined();
      expect(await grantOf(a)).toMatchObject({ ownerUserId: first.sub });

      // Ko-fi still bills the address the supporter paid with: the renewal reaches the first account (now b@x).
      const renewedAt = new Date(paidAt.getTime() + 30 * 86_400_000);
      expect((await pay({ email: a, timestamp: renewedAt, firstPayment: false }).delivered).status).toBe(200);
      expect(await rowOf(first.sub)).toMatchObject({ kofiPaidThrough: paidThroughOf(renewedAt) });
      expect((await entitlementsOf(first)).body).toMatchObject({ premium: true, kofiPaidThrough: paidThroughOf(renewedAt) });
      expect((await rowOf(second.sub))?.kofiPaidThrough).toBeUndefined();
      expect(await premium(a)).toBe(false);

      // Deleting the second account (holding a@x now) leaves the first account's grant alone;
      // deleting the first purges the grant of the address it moved off.
      await deleteAccount(second);
      expect(await grantOf(a)).toMatchObject({ ownerUserId: first.sub });
      await deleteAccount(first);
      expect(await kofiItems(a)).toEqual([]);
    });

    it('of two accounts claiming one grant at once, exactly one wins', async () => {
      const email = newEmail('contested');
      expect((await pay({ email }).delivered).status).toBe(200);
      const supporters = new DynamoKofiSupporters(doc(), env().TABLE_KOFI!);
      const claims = await Promise.all(Array.from({ length: 6 }, (_, i) => supporters.claimGrant(email, `claimer-${i}`)));
      const winners = claims.filter((c) => c.outcome === 'claimed');
      expect(winners).toHaveLength(1);
      const winner = (await grantOf(email))?.ownerUserId as string;
      expect(claims.filter((c) => c.outcome === 'owned')).toEqual(Array.from({ length: 5 }, () => ({ outcome: 'owned', ownerUserId: winner })));
      // The winner claims again (a retry): still its own. A renewal keeps the owner.
      await expect(supporters.claimGrant(email, winner)).resolves.toMatchObject({ outcome: 'claimed' });
      expect((await pay({ email, timestamp: new Date(Date.now() + 30 * 86_400_000), firstPayment: false }).delivered).status).toBe(200);
      expect(await grantOf(email)).toMatchObject({ ownerUserId: winner });
      await expect(supporters.claimGrant(newEmail('never-paid'), 'someone')).resolves.toEqual({ outcome: 'none' });
    });

    it('a payment racing the sign-up of its address is never lost', async () => {
      const email = newEmail('race');
      const [, user] = await Promise.all([pay({ email }).delivered, signUpAndSignIn('kofi-race', email)]);
      expect(await grantOf(email)).toMatchObject({ ownerUserId: user.sub });
      expect((await entitlementsOf(user)).body).toMatchObject({ premium: true, accessReason: 'kofi-subscription' });
    });
  });
});
