import { randomUUID } from 'node:crypto';
import { DynamoDBDocumentClient, GetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { localDynamoClient } from '../../infra/local/dynamodb';
import { kofiForm, kofiPayment, postKofiPayment, type KofiPaymentOptions } from '../../infra/local/kofi';
import type { BusEvent } from '../../infra/local/event-bus';
import type { EntitlementChanged } from '../../shared/domain/entitlement-events';
import { signUpAndSignIn, type TestUser } from '../fixtures/cognito';
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
    expect(me.body).toMatchObject({ status: 'none', tier: 'basic', premium: true, accessReason: 'kofi-subscription', kofiPaidThrough: paidThroughOf(paidAt) });
    expect(await rowOf(user.sub)).toMatchObject({ kofiPlan: 'basic', kofiPaidThrough: paidThroughOf(paidAt), lastChange: { kind: 'kofi' } });

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

    const user = await signUpAndSignIn('kofi-later', email);
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
    const badAmount = await post(kofiForm({ ...kofiPayment({ email, verificationToken: localStack().kofi.verificationToken }), amount: 'lots' }));
    expect(badAmount.status).toBe(400);
    expect(((await badAmount.json()) as { error: { message: string } }).error.message).toMatch(/^data\.amount:/);
    expect(await kofiItems(email)).toEqual([]);
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
});
