/**
 * What one Stripe webhook event costs: DynamoDB requests (counted by an SDK
 * middleware on the client the use case writes through), Stripe API calls
 * (counted by the emulator) and in-process latency, for the steady state
 * (a subscription event of a known customer) and a duplicate delivery.
 */
import { randomUUID } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import Stripe from 'stripe';
import { LOCAL_AWS } from '../infra/local/dynamodb';
import { freePort } from '../infra/local/processes';
import { startStripeEmulator } from '../infra/local/stripe/emulator';
import { DynamoEntitlementStore } from '../shared/adapters/dynamodb/entitlements-store';
import { DynamoProcessedEvents } from '../shared/adapters/dynamodb/processed-events';
import { DynamoUserStore } from '../shared/adapters/dynamodb/users-store';
import { StripeBilling } from '../shared/adapters/stripe/billing';
import { newEntitlement } from '../shared/domain/entitlement';
import { loadCatalogue } from '../shared/config/catalogue';
import type { ReadThroughCache } from '../shared/ports/cache';
import { handleStripeEvent, type StripeEventLike } from '../shared/use-cases/stripe-webhook';
import { countRequests, microsSince, row, type BenchContext, type BenchRow } from './harness';

const EVENTS = 200;

export async function run(ctx: BenchContext): Promise<BenchRow[]> {
  const emulator = await startStripeEmulator({ port: await freePort(), webhookUrl: 'http://127.0.0.1:9/unused' });
  await emulator.delivery({ paused: true });
  const raw = new DynamoDBClient({
    endpoint: ctx.dynamodbEndpoint,
    region: LOCAL_AWS.region,
    credentials: { accessKeyId: LOCAL_AWS.accessKeyId, secretAccessKey: LOCAL_AWS.secretAccessKey },
  });
  const dynamo = countRequests(raw, undefined, { recordCommands: true });
  const doc = DynamoDBDocumentClient.from(raw, { marshallOptions: { removeUndefinedValues: true } });
  const stripe = new Stripe(emulator.secretKey, { host: '127.0.0.1', port: emulator.port, protocol: 'http', maxNetworkRetries: 0 });
  let invalidations = 0;
  const cache: ReadThroughCache = { read: async (_k, load) => ({ value: await load(), source: 'db' }), invalidate: async () => void invalidations++, invalidateBestEffort: async () => undefined };
  const users = new DynamoUserStore(doc, ctx.tables.users, ctx.tables.emailOwners);
  const entitlements = new DynamoEntitlementStore(doc, { entitlements: ctx.tables.entitlements, users: ctx.tables.users });
  // The emulator starts with the prices the catalogue's "local" environment names.
  const catalogue = loadCatalogue('local');
  const deps = {
    users,
    entitlements,
    billing: new StripeBilling(async () => stripe),
    cache,
    catalogue,
    processed: new DynamoProcessedEvents(doc, ctx.tables.idempotency),
    topUps: { credit: async () => 'applied' as const },
    // The benchmark sends subscription events only; refunds and disputes never reach this port.
    tokenAdjustments: {
      adjust: async () => {
        throw new Error('the webhook benchmark sends no refund or dispute events');
      },
      adjustmentOf: async () => undefined,
    },
    clock: () => Date.now(),
  };
  try {
    const userId = randomUUID();
    const email = `bench-${userId}@example.com`;
    const customer = await stripe.customers.create({ email, metadata: { userId } });
    await users.createIfAbsent({ userId, email, stripeCustomerId: customer.id, createdAt: new Date().toISOString() });
    await entitlements.createIfAbsent(newEntitlement(userId, new Date()));
    const { subscription } = await emulator.subscribe({ customer: customer.id, tier: 'pro' });
    const event = (id: string): StripeEventLike => ({ id, type: 'customer.subscription.updated', data: { object: subscription as Record<string, unknown> } });

    const latency: number[] = [];
    const dynamoPerEvent: number[] = [];
    const stripePerEvent: number[] = [];
    const duplicateDynamo: number[] = [];
    for (let i = 0; i < EVENTS; i++) {
      await emulator.resetCalls();
      dynamo.requests = 0;
      dynamo.commands = [];
      const started = process.hrtime.bigint();
      const outcome = await handleStripeEvent(deps, event(`evt_bench_${i}`));
      latency.push(microsSince(started) / 1000);
      if (outcome !== 'applied') throw new Error(`expected the event to be applied, got ${outcome}`);
      dynamoPerEvent.push(dynamo.requests);
      if (i === 0) ctx.log(`webhook: one event's DynamoDB requests: ${dynamo.commands.join(', ')}`);
      stripePerEvent.push((await emulator.calls()).total);
      dynamo.requests = 0;
      await handleStripeEvent(deps, event(`evt_bench_${i}`));
      duplicateDynamo.push(dynamo.requests);
    }
    ctx.log(`webhook: ${EVENTS} events applied, ${invalidations} cache invalidations`);
    return [
      row('webhook event, in-process (Stripe emulator + DynamoDB Local)', latency, 'ms'),
      row('webhook event: DynamoDB requests', dynamoPerEvent, 'requests', { goal: '<= 4', pass: Math.max(...dynamoPerEvent) <= 4 }),
      row('webhook event: Stripe API calls', stripePerEvent, 'calls', { goal: '<= 1', pass: Math.max(...stripePerEvent) <= 1 }),
      row('webhook duplicate: DynamoDB requests', duplicateDynamo, 'requests', { goal: '<= 1', pass: Math.max(...duplicateDynamo) <= 1 }),
    ];
  } finally {
    raw.destroy();
    await emulator.stop();
  }
}
