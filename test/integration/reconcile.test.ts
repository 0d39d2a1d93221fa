import { DynamoDBDocumentClient, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { countRequests } from '../../bench/harness';
import { localDynamoClient } from '../../infra/local/dynamodb';
import type { ReconcileDeps, ReconcilePass, ReconcileReport } from '../../shared/use-cases/reconcile';
import { syncCustomer } from '../../shared/use-cases/stripe-sync';
import { signUpAndSignIn, type TestUser } from '../fixtures/cognito';
import { localStack } from '../fixtures/stack';
import { control, eventually, stripeClient } from '../fixtures/stripe';
import { LOCAL_PRICES } from '../fixtures/catalogue';

const env = () => localStack().handlerEnv;
const doc = () => DynamoDBDocumentClient.from(localDynamoClient(localStack().dynamodbEndpoint));
const isWrite = (command: string) => /^(Put|Update|Delete|BatchWrite|TransactWrite)/.test(command);

const baseline = { ...process.env };
const closers: Array<() => Promise<void>> = [];

/**
 * The reconciler's composition root against the local stack, loaded fresh
 * like a cold start, with its DynamoDB client (to count writes) and the
 * use case from the same module registry.
 */
function loadReconciler(): { deps: ReconcileDeps; dynamo: DynamoDBClient; reconcile: (deps: ReconcileDeps, pass: ReconcilePass, deadline: Date) => Promise<ReconcileReport> } {
  // Deliveries the test dropped a moment ago count as failed at once (on AWS they wait RECONCILE_IN_FLIGHT_SECONDS).
  process.env = { ...baseline, ...env(), RECONCILE_STRIPE_CALLS_PER_SECOND: '50', RECONCILE_IN_FLIGHT_SECONDS: '0' };
  let loaded: ReturnType<typeof loadReconciler> | undefined;
  jest.isolateModules(() => {
    const deps = (require('../../shared/wiring/reconcile') as typeof import('../../shared/wiring/reconcile')).reconciliation();
    const dynamo = (require('../../shared/wiring/aws') as typeof import('../../shared/wiring/aws')).aws().dynamo.raw;
    const { reconcile } = require('../../shared/use-cases/reconcile') as typeof import('../../shared/use-cases/reconcile');
    closers.push((require('../../shared/adapters/redis/client') as typeof import('../../shared/adapters/redis/client')).closeRedisClients);
    loaded = { deps, dynamo, reconcile };
  });
  return loaded!;
}

async function row(userId: string) {
  return (await doc().send(new GetCommand({ TableName: env().TABLE_ENTITLEMENTS, Key: { userId }, ConsistentRead: true }))).Item;
}

async function customerOf(user: TestUser): Promise<string> {
  return eventually(async () => {
    const profile = (await doc().send(new GetCommand({ TableName: env().TABLE_USERS, Key: { userId: user.sub }, ConsistentRead: true }))).Item;
    if (!profile?.stripeCustomerId) throw new Error('no Stripe customer yet');
    return profile.stripeCustomerId as string;
  });
}

/** A change made behind Stripe's back (a console edit, a bad migration): only the full pass can see it. */
async function driftRow(userId: string): Promise<void> {
  await doc().send(
    new UpdateCommand({ TableName: env().TABLE_ENTITLEMENTS, Key: { userId }, UpdateExpression: 'SET #s = :s, tier = :t', ExpressionAttributeNames: { '#s': 'status' }, ExpressionAttributeValues: { ':s': 'canceled', ':t': 'free' } }),
  );
}

let lost: TestUser;
let drifted: TestUser;
let reconciler: ReturnType<typeof loadReconciler>;
/** The identity sweep over this file's users only: other files' profiles (some made without Cognito) are not ours to delete. */
let deps: ReconcileDeps;
const run = (pass: ReconcilePass, overrides: Partial<ReconcileDeps> = {}) => reconciler.reconcile({ ...deps, ...overrides }, pass, new Date(Date.now() + 60_000));

beforeAll(async () => {
  [lost, drifted] = await Promise.all([signUpAndSignIn('reconcile-lost'), signUpAndSignIn('reconcile-drift')]);
  await control('POST', '/subscribe', { email: drifted.email, tier: 'basic' });
  await eventually(async () => expect(await row(drifted.sub)).toMatchObject({ status: 'active', tier: 'basic' }));
  reconciler = loadReconciler();
  const mine = { page: async () => ({ profiles: [lost, drifted].map((u) => ({ userId: u.sub })) }) };
  deps = { ...reconciler.deps, identities: { ...reconciler.deps.identities, profiles: mine } };
});

afterAll(async () => {
  await control('POST', '/delivery', { drop: false, dropCustomers: [] });
  await Promise.all(closers.splice(0).map((close) => close()));
  process.env = baseline;
});

describe('reconcile', () => {
  it("repairs a subscription whose every webhook was lost and a row changed behind Stripe's back; a second run writes nothing", async () => {
    // Arrange: every webhook of one subscription is lost; another row drifts in DynamoDB
    const customerId = await customerOf(lost);
    await control('POST', '/delivery', { dropCustomers: [customerId] });
    try {
      const { subscription } = await control('POST', '/subscribe', { email: lost.email, tier: 'basic' });
      await stripeClient().subscriptions.update(subscription.id, { items: [{ id: subscription.items.data[0].id, price: LOCAL_PRICES.pro }] });
      await control('POST', '/delivery/flush');
    } finally {
      await control('POST', '/delivery', { dropCustomers: [] });
    }
    expect(await row(lost.sub)).toMatchObject({ status: 'none', tier: 'free' });
    await driftRow(drifted.sub);

    // Act
    const first = await run('full');

    // Assert: Stripe's state in both rows, each repair counted by its sweep
    expect(await row(lost.sub)).toMatchObject({ status: 'active', tier: 'pro', plan: LOCAL_PRICES.pro });
    expect(await row(drifted.sub)).toMatchObject({ status: 'active', tier: 'basic' });
    expect(first.failedDeliveries).toMatchObject({ complete: true });
    expect(first.failedDeliveries.repaired).toBeGreaterThanOrEqual(1);
    expect(first.subscribers).toMatchObject({ complete: true });
    expect(first.subscribers!.repaired).toBeGreaterThanOrEqual(1);
    expect(first.identities).toMatchObject({ checked: 2, repaired: 0, complete: true });

    // Act again: nothing drifted since
    const writes = countRequests(reconciler.dynamo, isWrite);
    const second = await run('full');

    // Assert: not one DynamoDB write, nothing repaired
    expect(writes.requests).toBe(0);
    expect(second).toMatchObject({ failedDeliveries: { repaired: 0 }, subscribers: { repaired: 0, complete: true }, identities: { repaired: 0 } });
  });

  it("the webhook's re-read writes even when nothing changed, so an older read still in flight is refused", async () => {
    // Arrange: the row holds Stripe's state (reconciled above or by the webhook)
    const customerId = await customerOf(drifted);
    await eventually(async () => expect(await row(drifted.sub)).toMatchObject({ status: 'active', tier: 'basic' }));
    const readBefore = Date.now() - 1;

    // Act: a webhook's sync finds nothing to change; then a read that started before it lands,
    // having seen a state Stripe has left since (changed and changed back while it was in flight)
    const requests = countRequests(reconciler.dynamo, undefined, { recordCommands: true });
    const webhook = await syncCustomer(deps.stripe, customerId, { kind: 'stripe', ref: 'evt_reconcile_test' }, drifted.sub);
    const webhookCommands = [...requests.commands];
    const canceled = { ...deps.stripe.billing, listSubscriptions: async () => [] };
    const older = await syncCustomer({ ...deps.stripe, billing: canceled, clock: () => readBefore }, customerId, { kind: 'stripe', ref: 'evt_older' }, drifted.sub);

    // Assert: the webhook wrote (its read time moved on) and the older read was refused; for a price
    // the catalogue knows it found the owner and wrote, without reading the row first
    expect([webhook, older]).toEqual(['written', 'stale']);
    expect(webhookCommands).toEqual(['Query', 'TransactWriteItems']);
    expect(await row(drifted.sub)).toMatchObject({ status: 'active', tier: 'basic' });
  });

  it('a run cut short by its budget stores its cursor, and the next run resumes there', async () => {
    // Arrange: both rows drift; the clock runs out once the first user was checked
    await Promise.all([driftRow(lost.sub), driftRow(drifted.sub)]);
    let listedOne = false;
    let expired = false;
    const cutShort: Partial<ReconcileDeps> = {
      pageSize: 1,
      now: () => new Date(expired ? Date.now() + 3_600_000 : Date.now()),
      subscribers: {
        // Pages of one profile: the time is up once the first subscriber was handed out.
        page: async (input) => {
          if (listedOne) expired = true;
          const page = await deps.subscribers.page(input);
          listedOne ||= page.subscribers.length > 0;
          return page;
        },
      },
    };

    // Act
    const cut = await run('full', cutShort);
    const progress = (await doc().send(new GetCommand({ TableName: env().TABLE_IDEMPOTENCY, Key: { key: 'reconcile:subscribers' }, ConsistentRead: true }))).Item;
    const resumed = await run('full');
    const uncut = await run('full');

    // Assert: the first run checked one user and stopped there; the second went on from it to the end,
    // neither repeating nor skipping one (a whole run checks as many)
    expect(cut.subscribers).toMatchObject({ checked: 1, complete: false });
    expect(progress?.cursor).toEqual(expect.any(String));
    expect(resumed.subscribers).toMatchObject({ complete: true });
    expect(uncut.subscribers).toMatchObject({ complete: true, repaired: 0 });
    expect(cut.subscribers!.checked + resumed.subscribers!.checked).toBe(uncut.subscribers!.checked);
    expect((await doc().send(new GetCommand({ TableName: env().TABLE_IDEMPOTENCY, Key: { key: 'reconcile:subscribers' }, ConsistentRead: true }))).Item?.cursor).toBeUndefined();
    expect(await row(lost.sub)).toMatchObject({ status: 'active', tier: 'pro' });
    expect(await row(drifted.sub)).toMatchObject({ status: 'active', tier: 'basic' });
  });
});
