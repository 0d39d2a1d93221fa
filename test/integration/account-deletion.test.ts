import { spawn } from 'node:child_process';
import { join, resolve } from 'node:path';
import { DeleteUserCommand } from '@aws-sdk/client-cognito-identity-provider';
import { BatchWriteCommand, DynamoDBDocumentClient, GetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { Context, SQSEvent, SQSBatchResponse } from 'aws-lambda';
import { localDynamoClient } from '../../infra/local/dynamodb';
import { freePort } from '../../infra/local/processes';
import { startLocalQueue, type LocalQueue } from '../../infra/local/queue';
import { deletion as wiredDeletion } from '../../shared/wiring/deletion';
import { DynamoApiKeyStore, DynamoUsageStore } from '../../shared/adapters/dynamodb/api-key-store';
import { DynamoEntitlementStore } from '../../shared/adapters/dynamodb/entitlements-store';
import { DynamoTokenStore, tokenTables } from '../../shared/adapters/dynamodb/token-store';
import { DynamoUserStore } from '../../shared/adapters/dynamodb/users-store';
import { closeRedisClients } from '../../shared/adapters/redis/client';
import { loadConfig, tablesSection } from '../../shared/config';
import { credentialGrantEntry, usageCounterId } from '../../shared/domain/usage';
import { deleteAccountResponse, deletionInProgressResponse } from '../../shared/http/schemas';
import { NO_SUBSCRIPTION, newEntitlement } from '../../shared/domain/entitlement';
import { catalogueWith, defaultCatalogue } from '../fixtures/catalogue';
import { runAccountDeletion, type DeletionDeps } from '../../shared/use-cases/delete-account';
import { reconcileIdentities } from '../../shared/use-cases/reconcile-identities';
import { cognitoClient, cognitoUserExists, signUpAndSignIn, type TestUser } from '../fixtures/cognito';
import { apiEvent, closeLoadedHandlers, loadHandler } from '../fixtures/handlers';
import { api, localStack } from '../fixtures/stack';
import { control, eventually, stripeClient } from '../fixtures/stripe';

const ROOT = resolve(__dirname, '..', '..');
const env = () => localStack().handlerEnv;
let docClient: DynamoDBDocumentClient | undefined;
const doc = () => (docClient ??= DynamoDBDocumentClient.from(localDynamoClient(localStack().dynamodbEndpoint), { marshallOptions: { removeUndefinedValues: true } }));
const get = async (table: string, key: Record<string, string>) =>
  (await doc().send(new GetCommand({ TableName: env()[table], Key: key, ConsistentRead: true }))).Item;
const ledgerRows = async (userId: string) =>
  (
    await doc().send(
      new QueryCommand({ TableName: env().TABLE_LEDGER, KeyConditionExpression: 'userId = :u', ExpressionAttributeValues: { ':u': userId }, ConsistentRead: true }),
    )
  ).Items ?? [];
const apiKeyRows = async (userId: string) =>
  (
    await doc().send(
      new QueryCommand({ TableName: env().TABLE_API_KEYS, IndexName: 'byUser', KeyConditionExpression: 'userId = :u', ExpressionAttributeValues: { ':u': userId } }),
    )
  ).Items ?? [];
const deletionJobRow = (userId: string) => get('TABLE_IDEMPOTENCY', { key: `account-deletion:${userId}` });
const premium = async (email: string) =>
  (await api('/v1/premium/check', { method: 'POST', headers: { 'x-api-key': localStack().internalApiKey }, json: { email } })).body.premium as boolean;

async function subscribed(prefix: string): Promise<{ user: TestUser; customerId: string }> {
  const user = await signUpAndSignIn(prefix);
  await control('POST', '/subscribe', { email: user.email, tier: 'pro' });
  await eventually(async () => expect(await premium(user.email)).toBe(true));
  const customerId = (await get('TABLE_USERS', { userId: user.sub }))!.stripeCustomerId as string;
  return { user, customerId };
}

/** Rows `count` ledger entries for the user, as years of consumes would leave them. */
async function seedLedger(userId: string, count: number): Promise<void> {
  const items = Array.from({ length: count }, (_, i) => ({
    userId,
    entryId: `2026-01-01T00:00:00.000Z#${String(i).padStart(6, '0')}#consume#seed`,
    kind: 'consume',
    amount: 1,
  }));
  for (let i = 0; i < items.length; i += 25) {
    await doc().send(new BatchWriteCommand({ RequestItems: { [env().TABLE_LEDGER!]: items.slice(i, i + 25).map((Item) => ({ PutRequest: { Item } })) } }));
  }
}

function runAdmin(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [require.resolve('tsx/cli'), join(ROOT, 'scripts/admin.ts'), ...args], {
      cwd: ROOT,
      // The admin command finds the running stack through its stack.json, as an operator's would.
      env: { ...process.env, LOCAL_STACK_DIR: resolve(process.env.LOCAL_STACK_FILE!, '..'), TABLE_USERS: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => done({ code, stdout, stderr }));
  });
}

/** The deletion saga's adapters, built from the local stack's handler environment like a function's. */
let wired: ReturnType<typeof wiredDeletion> | undefined;
function deletion(): { deps: ReturnType<typeof wiredDeletion>['saga']; profiles: ReturnType<typeof wiredDeletion>['profiles'] } {
  if (!wired) {
    Object.assign(process.env, env());
    wired = wiredDeletion();
  }
  return { deps: wired.saga, profiles: wired.profiles };
}
const plenty = () => ({ deadline: new Date(Date.now() + 60_000), leaseUntil: new Date(Date.now() + 90_000) });
const oneUnit = () => ({ deadline: new Date(0), leaseUntil: new Date(Date.now() + 90_000) });

afterAll(async () => {
  await closeLoadedHandlers();
  await closeRedisClients();
  wired?.closeClients();
  docClient?.destroy();
});

describe('self-deletion behind our back (Cognito DeleteUser with the access token)', () => {
  it('npm run admin -- reconcile cancels the subscription, deletes the customer and purges the user', async () => {
    const { user, customerId } = await subscribed('selfdelete');
    const client = cognitoClient();
    try {
      await client.send(new DeleteUserCommand({ AccessToken: user.accessToken }));
    } finally {
      client.destroy();
    }
    expect(await cognitoUserExists(user)).toBe(false);
    // What main did: nothing noticed, the user stays premium and billed.
    expect(await premium(user.email)).toBe(true);

    const run = await runAdmin(['reconcile', '--user', user.sub]);
    expect(run.stderr).not.toContain('admin failed');
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ checked: 1, identityGone: [user.sub], deleted: [user.sub], failed: [] });

    const subs = await stripeClient().subscriptions.list({ customer: customerId, status: 'all' });
    expect(subs.data.every((s) => s.status === 'canceled')).toBe(true);
    expect((await stripeClient().customers.retrieve(customerId)).deleted).toBe(true);
    expect(await get('TABLE_USERS', { userId: user.sub })).toBeUndefined();
    expect(await get('TABLE_ENTITLEMENTS', { userId: user.sub })).toBeUndefined();
    expect(await ledgerRows(user.sub)).toEqual([]);
    expect(await premium(user.email)).toBe(false);
    const job = (await deletionJobRow(user.sub))!.job;
    expect(job).toMatchObject({ source: 'sweep', completed: expect.arrayContaining(['done']) });

    // A second run finds nothing left to do.
    const again = await runAdmin(['reconcile', '--user', user.sub]);
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ checked: 0, identityGone: [], deleted: [] });
  });

  it('the full sweep finds every profile without a Cognito user, and no live one', async () => {
    const gone = await signUpAndSignIn('sweep-gone');
    const live = await signUpAndSignIn('sweep-live');
    // Deleted behind our back, then signed up again with the same address: the new account took the
    // address over, so the old profile has none left. It must still be swept (regression: the scan
    // filtered on the email attribute and never visited it, leaving its subscription billed).
    const returning = await signUpAndSignIn('sweep-returning');
    const client = cognitoClient();
    try {
      await client.send(new DeleteUserCommand({ AccessToken: gone.accessToken }));
      await client.send(new DeleteUserCommand({ AccessToken: returning.accessToken }));
    } finally {
      client.destroy();
    }
    const again = await signUpAndSignIn('unused', returning.email);
    expect((await get('TABLE_USERS', { userId: returning.sub }))?.email).toBeUndefined();
    const { deps, profiles } = deletion();
    // Other test files own profiles here too: record what the sweep would delete instead of deleting it.
    const started: string[] = [];
    const report = await reconcileIdentities({
      profiles,
      identity: deps.identity,
      jobs: deps.jobs,
      now: deps.now,
      stallAfterMs: 15 * 60_000,
      startDeletion: async (userId) => void started.push(userId),
    });
    expect(report.checked).toBeGreaterThanOrEqual(2);
    expect(started).toContain(gone.sub);
    expect(started).toContain(returning.sub);
    expect(started).not.toContain(live.sub);
    expect(started).not.toContain(again.sub);
    expect(report.cursor).toBeUndefined();
  });

  it('the sweep resumes a deletion that stopped and was never called again', async () => {
    const { user, customerId } = await subscribed('stalled');
    const { deps } = deletion();
    // The first unit of work only (marking), as when the route's later step failed and the user gave up.
    await runAccountDeletion(deps, { userId: user.sub, username: user.sub, source: 'api' }, oneUnit());
    expect(await get('TABLE_USERS', { userId: user.sub })).toHaveProperty('deletingAt');
    const started: string[] = [];
    const sweep = (now: Date) =>
      reconcileIdentities({
        profiles: { page: async () => ({ profiles: [{ userId: user.sub, deletingAt: 'x' }] }) },
        identity: deps.identity,
        jobs: deps.jobs,
        now: () => now,
        stallAfterMs: 15 * 60_000,
        startDeletion: async (userId) => {
          started.push(userId);
          await runAccountDeletion(deps, { userId, source: 'sweep' }, plenty());
        },
      });
    expect((await sweep(new Date())).stalled).toEqual([]); // still fresh: someone may be working on it
    expect((await sweep(new Date(Date.now() + 16 * 60_000))).stalled).toEqual([user.sub]);
    expect((await stripeClient().customers.retrieve(customerId)).deleted).toBe(true);
    expect(await get('TABLE_USERS', { userId: user.sub })).toBeUndefined();
    expect(await cognitoUserExists(user)).toBe(false);
  });
});

describe('deletion of any size: checkpointed, finished by the queue-driven worker', () => {
  let queue: LocalQueue | undefined;
  afterAll(async () => queue?.stop());

  it('with a tiny time budget the route answers 202, the worker continues over many invocations, a second call is safe', async () => {
    const { user, customerId } = await subscribed('heavy');
    await seedLedger(user.sub, 130);

    const workerCalls: number[] = [];
    let worker: ((event: SQSEvent, context: Context) => Promise<SQSBatchResponse>) | undefined;
    queue = await startLocalQueue({
      name: 'deletion-test',
      port: await freePort(),
      visibilityTimeoutMs: 100,
      deliver: async (event) => {
        workerCalls.push(Date.now());
        return worker!(event, {} as Context);
      },
    });
    const overrides = { DELETION_TIME_BUDGET_MS: '0', DELETION_BATCH_SIZE: '25', DELETION_QUEUE_URL: queue.url, SQS_ENDPOINT: queue.endpoint };
    const route = loadHandler('delete-account', overrides);
    worker = loadHandler('deletion-worker', overrides) as unknown as typeof worker;
    const claims = { sub: user.sub, username: user.sub, client_id: localStack().cognito.clientId, token_use: 'access' };
    const call = () =>
      route(
        apiEvent({ resource: '/me/account', httpMethod: 'DELETE', requestContext: { requestId: `t-${Math.random()}`, authorizer: { claims } } as never }),
        {} as Context,
      );

    const first = await call();
    expect(first.statusCode).toBe(202);
    const body = JSON.parse(first.body);
    expect(deletionInProgressResponse.safeParse(body).error).toBeUndefined();
    expect(body).toMatchObject({ deleted: false, status: 'in-progress', job: { completedSteps: ['marked'], nextStep: 'billing' } });
    expect(JSON.stringify(body)).not.toContain(user.email);

    // A second call while the worker runs is safe: it answers where the job stands (or does one more unit).
    const second = await call();
    expect([200, 202]).toContain(second.statusCode);

    await queue.drained(30_000);
    expect(queue.deadLetters).toEqual([]);
    // 130 rows in batches of 25 plus every step, one unit per invocation: many invocations, each resuming.
    expect(workerCalls.length).toBeGreaterThan(6);

    const done = await call();
    expect(done.statusCode).toBe(200);
    expect(deleteAccountResponse.safeParse(JSON.parse(done.body)).error).toBeUndefined();
    expect(JSON.parse(done.body)).toMatchObject({
      deleted: true,
      status: 'deleted',
      job: { completedSteps: ['marked', 'billing', 'data', 'cache', 'profile', 'identity'], nextStep: null, purged: { ledgerEntries: expect.any(Number), apiKeys: 0 } },
    });
    expect(JSON.parse(done.body).job.purged.ledgerEntries).toBeGreaterThanOrEqual(130);
    expect(await ledgerRows(user.sub)).toEqual([]);
    expect(await get('TABLE_USERS', { userId: user.sub })).toBeUndefined();
    expect(await get('TABLE_ENTITLEMENTS', { userId: user.sub })).toBeUndefined();
    expect((await stripeClient().customers.retrieve(customerId)).deleted).toBe(true);
    expect(await cognitoUserExists(user)).toBe(false);

    // The finished job is a tombstone without personal data.
    const stored = JSON.stringify(await deletionJobRow(user.sub));
    expect(stored).not.toContain(user.email);
    expect(stored).not.toContain(customerId);
  });

  it('DELETE /me/account through the local stack: the in-process queue and worker finish it', async () => {
    const { user } = await subscribed('via-gateway');
    const res = await api('/me/account', { method: 'DELETE', headers: { authorization: `Bearer ${user.accessToken}` } });
    // The default budget (8 s) finishes a small account in the request itself.
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ deleted: true, status: 'deleted' });
    const again = await api('/me/account', { method: 'DELETE', headers: { authorization: `Bearer ${user.accessToken}` } });
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ deleted: true, status: 'deleted' });
  });
});

describe('nothing comes back after deletion: every write path in shared/adapters', () => {
  interface Writers {
    usage: DynamoUsageStore;
    keys: DynamoApiKeyStore;
    tokens: DynamoTokenStore;
    entitlements: DynamoEntitlementStore;
    users: DynamoUserStore;
  }
  let writers: Writers;
  beforeAll(() => {
    const tables = { ...env() } as Record<string, string>;
    writers = {
      usage: new DynamoUsageStore(doc(), { ledger: tables.TABLE_LEDGER!, users: tables.TABLE_USERS! }),
      keys: new DynamoApiKeyStore(doc(), { apiKeys: tables.TABLE_API_KEYS!, users: tables.TABLE_USERS! }),
      tokens: new DynamoTokenStore(doc(), { tables: tokenTables(loadConfig({ tables: tablesSection }, tables).tables), catalogue: defaultCatalogue() }),
      entitlements: new DynamoEntitlementStore(doc(), { entitlements: tables.TABLE_ENTITLEMENTS!, users: tables.TABLE_USERS! }),
      users: new DynamoUserStore(doc(), tables.TABLE_USERS!, tables.TABLE_EMAIL_OWNERS!),
    };
  });

  /** Every writer, once; what each answered. */
  async function writeEverything(userId: string, tag: string, phase: 'racing' | 'after'): Promise<Record<string, unknown>> {
    const now = new Date();
    const period = now.toISOString().slice(0, 7);
    const settle = async (p: Promise<unknown>) => p.then((v) => v, (e: Error) => `threw ${e.name}`);
    return {
      // First: a sign-up retried late (Cognito re-runs the trigger) must not put back a row the token writes would take as live.
      signUpRow: await settle(writers.entitlements.createIfAbsent(newEntitlement(userId, now))),
      verifyCount: await settle(writers.usage.count(userId, 'api-calls', period, null, 4_000_000_000)),
      credentialGrant: await settle(
        writers.usage.logCredentialGrant(
          credentialGrantEntry(
            { userId, roleSessionName: `u-${userId}`, durationSeconds: 900, accessKeyId: 'ASIA0000', credentialsExpireAt: now.toISOString(), actions: ['transcribe:StartStreamTranscription'] },
            now,
            tag,
          ),
        ),
      ),
      consume: await settle(writers.tokens.consume({ userId, amount: 1, idempotencyKey: `race-${tag}` })),
      grant: await settle(writers.tokens.addPurchasedTokens({ userId, tokens: 5, idempotencyKey: `grant-${tag}`, reason: 'test' })),
      topUp: await settle(writers.tokens.addPurchasedTokens({ userId, tokens: 5, idempotencyKey: `topup:${tag}`, reason: 'top-up', kind: 'top-up' })),
      setTier: await settle(writers.tokens.setTier({ userId, tier: 'pro', sticky: true })),
      stripeState: await settle(writers.entitlements.applySubscriptionState(userId, NO_SUBSCRIPTION, Date.now(), { kind: 'stripe' })),
      premiumOverride: await settle(writers.entitlements.setPremiumOverride(userId, true)),
      rotateKey: await settle(writers.keys.rotate(userId, { keyHash: `${tag}${'0'.repeat(64)}`.slice(0, 64), prefix: 'evk_live_test', createdAt: now.toISOString() })),
      markDeleting: await settle(writers.users.markDeleting(userId, now.toISOString())),
      // Racing, checkout's attach lands on the profile and the billing step (which re-reads it) deletes that customer.
      ...(phase === 'after' ? { attachCustomer: await settle(writers.users.attachStripeCustomer(userId, `cus_late${tag}`)) } : {}),
    };
  }

  async function expectNothingLeft(userId: string): Promise<void> {
    expect(await ledgerRows(userId)).toEqual([]);
    expect(await apiKeyRows(userId)).toEqual([]);
    expect(await get('TABLE_API_KEYS', { keyHash: `owner#${userId}` })).toBeUndefined();
    expect(await get('TABLE_ENTITLEMENTS', { userId })).toBeUndefined();
    expect(await get('TABLE_USERS', { userId })).toBeUndefined();
  }

  it('a write of each path racing the purge (after marking, before the rows go) is refused or purged; one after it is refused', async () => {
    const { user } = await subscribed('race-paths');
    const { deps } = deletion();
    const job = { userId: user.sub, username: user.sub, source: 'api' as const };
    // The token writer has seen the row (as a warm Lambda would): its next write is planned without a read.
    expect(await writers.tokens.consume({ userId: user.sub, amount: 1, idempotencyKey: 'warm-before-deletion' })).toMatchObject({ outcome: 'consumed' });
    await runAccountDeletion(deps, job, oneUnit()); // marked: the writers are cut off from here on

    const racing = await writeEverything(user.sub, 'r1', 'racing');
    expect(racing).toMatchObject({
      signUpRow: 'gone',
      verifyCount: { counted: false, userGone: true },
      credentialGrant: 'gone',
      consume: { outcome: 'unknown-user' },
      grant: { outcome: 'unknown-user' },
      topUp: { outcome: 'unknown-user' },
      // The row is marked: an admin tier change publishes nothing for a user being deleted.
      setTier: undefined,
      stripeState: 'gone',
      premiumOverride: 'gone',
      rotateKey: 'gone',
    });

    const finished = await runAccountDeletion(deps, job, plenty());
    expect(finished.state).toBe('deleted');
    await expectNothingLeft(user.sub);

    const after = await writeEverything(user.sub, 'a1', 'after');
    expect(after).toMatchObject({
      signUpRow: 'gone',
      verifyCount: { counted: false, userGone: true },
      credentialGrant: 'gone',
      consume: { outcome: 'unknown-user' },
      grant: { outcome: 'unknown-user' },
      topUp: { outcome: 'unknown-user' },
      setTier: undefined,
      stripeState: 'gone',
      premiumOverride: 'gone',
      rotateKey: 'gone',
      // Refused: nothing is attached to a profile being deleted (and the caller deletes the customer it made).
      attachCustomer: undefined,
    });
    await expectNothingLeft(user.sub);
  });

  it('verify counts and credential grants hammering a running deletion leave nothing behind', async () => {
    const { user } = await subscribed('race-hammer');
    await seedLedger(user.sub, 60);
    const { deps } = deletion();
    const period = new Date().toISOString().slice(0, 7);
    let deleting = true;
    let tag = 0;
    const hammer = async () => {
      // Until well after the deletion finished: the writes main let through came late.
      let extra = 20;
      while (deleting || extra-- > 0) {
        const i = (tag += 1);
        await Promise.all([
          writers.usage.count(user.sub, 'api-calls', period, null, 4_000_000_000),
          writers.usage.logCredentialGrant(
            credentialGrantEntry(
              { userId: user.sub, roleSessionName: 'u', durationSeconds: 900, accessKeyId: 'ASIA0000', credentialsExpireAt: new Date().toISOString(), actions: [] },
              new Date(),
              `h${i}`,
            ),
          ),
        ]);
      }
    };
    const hammering = Promise.all([hammer(), hammer(), hammer()]);
    await new Promise((r) => setTimeout(r, 50)); // the counter exists before deletion starts
    const finished = await runAccountDeletion({ ...deps, batchSize: 10 } satisfies DeletionDeps, { userId: user.sub, username: user.sub, source: 'api' }, plenty());
    deleting = false;
    await hammering;
    expect(finished.state).toBe('deleted');
    expect(await get('TABLE_LEDGER', { userId: user.sub, entryId: usageCounterId('api-calls', period) })).toBeUndefined();
    await expectNothingLeft(user.sub);
  });
});
