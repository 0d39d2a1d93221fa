import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SIGNATURE_HEADER, verifyEventsWebhook } from '../../infra/local/event-bus';
import { entitlementChangedSchema, type EntitlementChanged } from '../../shared/domain/entitlement-events';
import { signUpAndSignIn } from '../fixtures/cognito';
import { api, localStack } from '../fixtures/stack';
import { control, eventually } from '../fixtures/stripe';
import { expectEntitlement } from '../fixtures/subscribers';

/** A local HTTP endpoint standing in for an app that receives entitlement.changed. */
interface Receiver {
  url: string;
  received: Array<{ event: EntitlementChanged; signed: boolean }>;
  server: Server;
}

async function startReceiver(secret: string): Promise<Receiver> {
  const received: Receiver['received'] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const signed = verifyEventsWebhook(secret, body, req.headers[SIGNATURE_HEADER] as string | undefined);
      received.push({ event: entitlementChangedSchema.parse(JSON.parse(body)), signed });
      res.writeHead(signed ? 204 : 400).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/entitlements`, received, server };
}

const setWebhook = (url: string | null) => fetch(`${localStack().events.busUrl}/webhook`, { method: 'PUT', body: JSON.stringify({ url }) });

/** Duplicates are allowed; each change once by id, in arrival order. */
function distinctFor(receiver: Receiver, userId: string): EntitlementChanged[] {
  const seen = new Map<string, EntitlementChanged>();
  for (const { event } of receiver.received) if (event.userId === userId && !seen.has(event.id)) seen.set(event.id, event);
  return [...seen.values()];
}

/** What a consumer acts on: the access after each change (null: deleted). */
const accessAfter = (event: EntitlementChanged) => (event.current ? `${event.current.status}/${event.current.tier}/${event.current.premium ? 'premium' : 'free'}` : 'deleted');

describe('entitlement.changed at a webhook (the local stack)', () => {
  let receiver: Receiver;

  beforeAll(async () => {
    receiver = await startReceiver(localStack().events.webhookSecret);
    await setWebhook(receiver.url);
  });

  afterAll(async () => {
    await setWebhook(null);
    await new Promise<void>((resolve) => receiver.server.close(() => resolve()));
  });

  it('a user subscribes, upgrades, cancels and is deleted: exactly those changes arrive, signed, deduplicable by id', async () => {
    // Arrange
    const user = await signUpAndSignIn('events');

    // Act
    const { subscription } = await control<{ subscription: { id: string } }>('POST', '/subscribe', { email: user.email, tier: 'basic' });
    await expectEntitlement(user, { status: 'active', tier: 'basic' });
    await control('POST', `/subscriptions/${subscription.id}/change-price`, { tier: 'pro' });
    await expectEntitlement(user, { status: 'active', tier: 'pro' });
    await control('POST', `/subscriptions/${subscription.id}/cancel`, {});
    await expectEntitlement(user, { status: 'canceled', tier: 'free' });
    expect((await api('/me/account', { method: 'DELETE', headers: { authorization: `Bearer ${user.accessToken}` } })).status).toBe(200);

    // Assert
    const events = await eventually(async () => {
      const distinct = distinctFor(receiver, user.sub);
      expect(distinct.at(-1)?.changed).toEqual(['deleted']);
      return distinct;
    }, 20_000);
    expect(receiver.received.filter((r) => r.event.userId === user.sub).every((r) => r.signed)).toBe(true);
    // A change that only moved the allowance period to the paid one is not a new access: collapse repeats,
    // and each repeat must be exactly that period change (no other event may hide among them).
    const transitions = events.map(accessAfter).filter((access, i, all) => i === 0 || access !== all[i - 1]);
    expect(transitions).toEqual(['active/basic/premium', 'active/pro/premium', 'canceled/free/free', 'deleted']);
    const repeats = events.filter((event, i) => i > 0 && accessAfter(event) === accessAfter(events[i - 1]!));
    for (const repeat of repeats) expect(repeat.changed).toEqual(['allowancePeriod']);
    for (const event of events.slice(0, -1)) expect(event.cause).toMatchObject({ kind: 'stripe', ref: expect.stringMatching(/^evt_/) });
    expect(events.at(-1)).toMatchObject({ cause: { kind: 'deletion' }, previous: { status: 'canceled' }, current: null });
    expect(events[0]).toMatchObject({ previous: { status: 'none', tier: 'free' }, current: { limits: { monthlyTokens: 1000 } } });
  }, 60_000);

  it('a consume publishes nothing (grants before and after it do)', async () => {
    // Arrange
    const user = await signUpAndSignIn('events-consume');
    const internal = (path: string, json: unknown) => api(`/v1/users/${user.sub}/tokens/${path}`, { method: 'POST', headers: { 'x-api-key': localStack().internalApiKey }, json });
    expect((await internal('add', { amount: 10, reason: 'test grant', idempotencyKey: `grant-1-${user.sub}` })).status).toBe(200);

    // Act
    expect((await internal('consume', { amount: 3, idempotencyKey: `consume-${user.sub}` })).status).toBe(200);
    // The stream keeps a user's writes in order: once this grant's event is in, the consume was seen.
    expect((await internal('add', { amount: 5, reason: 'test grant', idempotencyKey: `grant-2-${user.sub}` })).status).toBe(200);

    // Assert
    const events = await eventually(async () => {
      const distinct = distinctFor(receiver, user.sub);
      expect(distinct).toHaveLength(2);
      return distinct;
    }, 15_000);
    expect(events.map((e) => [e.changed, e.cause.kind, e.current?.purchasedTokens])).toEqual([
      [['purchasedTokens'], 'admin', 10],
      [['purchasedTokens'], 'admin', 12],
    ]);
  }, 30_000);
});
