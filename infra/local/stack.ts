import { catalogueFilePath, readCatalogueFile, servableCatalogue } from '../../shared/config/catalogue';
import { randomBytes } from 'node:crypto';
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve, sep } from 'node:path';
import type { Server } from 'node:http';
import { COGNITO_TRIGGERS, FUNCTIONS, QUEUE_CONSUMERS, STREAM_CONSUMERS, handlerEntry, type FunctionName } from '../../shared/routes';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { TableId } from '../../shared/adapters/dynamodb/tables';
import { createLocalCognitoAuthorizer } from './authorizer';
import { startCognitoLocal } from './cognito';
import { createTables, LOCAL_AWS, localDynamoClient, startDynamoDbLocal } from './dynamodb';
import { docsRoutes } from './docs';
import { createGateway, createLambdaInvokeServer, lambdaContext, type HandlerTable } from './gateway';
import { close, listen } from './http';
import { startLocalEventBus } from './event-bus';
import { startLocalQueue, type LocalQueue } from './queue';
import { scheduleExpressions, startLocalSchedules, type LocalSchedules } from './scheduler';
import { startTableStream, type TableStreamPoller } from './table-stream';
import { closeRedisClients } from '../../shared/adapters/redis/client';
import { freePort, type OwnedProcess } from './processes';
import { startRedis } from './redis';
import { seedDemoUser, type SeededUser } from './seed';
import { stripeEmulatorService } from './stripe/service';
import { stsEmulatorService } from './sts/emulator';

export const REPO_ROOT = resolve(__dirname, '..', '..');

/**
 * A service the local stack runs beside the gateway. The Stripe and STS
 * emulators plug in here: each starts on its port, contributes the handler
 * environment that points the real SDK at it, and stops on shutdown.
 */
export interface LocalService {
  name: string;
  url: string;
  env: Record<string, string>;
  stop: () => Promise<void>;
}
export interface LocalServiceFactory {
  /** Port used by `npm run local`; tests use ephemeral ports. */
  defaultPort: number;
  start: (ctx: { port: number; stateDir: string; gatewayUrl: string }) => Promise<LocalService>;
}
/** Emulators started with every stack (later issues register theirs here). */
export const LOCAL_SERVICES: Record<string, LocalServiceFactory> = {
  stripe: stripeEmulatorService,
  sts: stsEmulatorService,
};

export interface StackOptions {
  /** Directory for cognito-local's data and stack.json. */
  stateDir: string;
  /** Ephemeral ports for everything (tests); fixed, well-known ports otherwise. */
  randomPorts: boolean;
  /** Fail instead of running without a cache when no Redis is available. */
  requireRedis: boolean;
  redisUrl?: string;
  internalApiKey?: string;
  /** Ko-fi's webhook verification token (KOFI_VERIFICATION_TOKEN); random when unset. */
  kofiVerificationToken?: string;
  logLevel?: string;
  /** Run SCHEDULES on their expressions (default on; the integration tests run reconcile themselves). */
  schedules?: boolean;
  /** entitlement.changed is POSTed here, signed (EVENTS_WEBHOOK_URL; PUT /webhook on the event bus changes it). */
  eventsWebhookUrl?: string;
  /** The HMAC key of those POSTs (EVENTS_WEBHOOK_SECRET); random when unset. */
  eventsWebhookSecret?: string;
}

export interface StackState {
  startedAt: string;
  startupMs: number;
  gatewayUrl: string;
  lambdaInvokeUrl: string;
  dynamodbEndpoint: string;
  redis: { url: string | null; source: string };
  cognito: { endpoint: string; userPoolId: string; clientId: string; issuer: string };
  internalApiKey: string;
  /** Where to POST Ko-fi payments and the token they must carry (`npm run kofi`). */
  kofi: { webhookUrl: string; verificationToken: string };
  services: Record<string, string>;
  /** In-process queues (SQS stand-ins) by name -> queue URL. */
  queues: Record<string, string>;
  /** Schedules run in-process, by name -> expression; absent when they are off. */
  schedules?: Record<string, string>;
  /** The local EventBridge bus: GET {busUrl}/events lists the last events (`npm run events`). */
  events: { busUrl: string; busName: string; webhookUrl: string | null; webhookSecret: string };
  /** The environment the handlers run with: use it to run a handler in-process against this stack. */
  handlerEnv: Record<string, string>;
  pid: number;
  /** The seeded demo user (infra/local/seed.ts), or why seeding failed. */
  demoUser?: SeededUser | { error: string };
}

const DEFAULT_PORTS = { gateway: 3000, lambda: 3001, dynamodb: 8000, cognito: 9229, redis: 6380, deletionQueue: 9324, eventBus: 9325 };

export interface RunningStack {
  state: StackState;
  stop: () => Promise<void>;
}

/**
 * On Lambda every function is a process of its own, with its own clients,
 * caches and circuit breakers. The local stack runs them all in one process,
 * so before each handler loads, the composition root (shared/wiring/, where
 * every instance is built once per process) is forgotten: each function builds
 * its own, and a breaker one function opens never refuses another's calls.
 */
function forgetCompositionRoot(): void {
  const wiring = join(REPO_ROOT, 'shared', 'wiring') + sep;
  for (const path of Object.keys(require.cache)) if (path.startsWith(wiring)) delete require.cache[path];
}

async function loadHandlers(names: FunctionName[]): Promise<HandlerTable> {
  const table: HandlerTable = {};
  for (const name of names) {
    forgetCompositionRoot();
    const mod = (await import(join(REPO_ROOT, handlerEntry(name)))) as { handler: HandlerTable[FunctionName] };
    if (typeof mod.handler !== 'function') throw new Error(`${handlerEntry(name)} does not export a handler`);
    table[name] = mod.handler;
  }
  return table;
}

export async function startLocalStack(options: StackOptions): Promise<RunningStack> {
  const started = Date.now();
  const processes: OwnedProcess[] = [];
  const servers: Server[] = [];
  const services: LocalService[] = [];
  const queues: LocalQueue[] = [];
  let schedules: LocalSchedules | undefined;
  const pollers: TableStreamPoller[] = [];
  let streamClient: DynamoDBClient | undefined;
  const stop = async () => {
    rmSync(join(options.stateDir, 'stack.json'), { force: true });
    schedules?.stop();
    await Promise.all(pollers.map((p) => p.stop()));
    streamClient?.destroy();
    await Promise.all(queues.map((q) => q.stop()));
    await Promise.all(servers.map(close));
    await closeRedisClients();
    await Promise.all(services.map((s) => s.stop().catch(() => undefined)));
    // Redis last: in-process handlers keep a client to it until the very end.
    const isRedis = (p: OwnedProcess) => p.name === 'redis-server';
    await Promise.all(processes.filter((p) => !isRedis(p)).map((p) => p.stop()));
    await Promise.all(processes.filter(isRedis).map((p) => p.stop()));
  };
  const port = async (fixed: number) => (options.randomPorts ? freePort() : fixed);

  // The catalogue first: a bad file, an environment it cannot serve or a retired variable
  // (TIER_*, STRIPE_PRICE_*...) stops the start before anything is spawned, naming the file and the field.
  const catalogueFile = catalogueFilePath();
  const catalogueEnvironment = process.env.CATALOGUE_ENVIRONMENT || ((process.env.LOCAL_STRIPE ?? '').toLowerCase() === 'real' ? 'test' : 'local');
  const { file, source } = readCatalogueFile(catalogueFile);
  const catalogue = servableCatalogue(file, source, catalogueEnvironment);

  try {
    mkdirSync(options.stateDir, { recursive: true });
    // A stack.json left by a stack that was killed would point scripts at dead ports.
    rmSync(join(options.stateDir, 'stack.json'), { force: true });
    const ports = {
      gateway: await port(DEFAULT_PORTS.gateway),
      lambda: await port(DEFAULT_PORTS.lambda),
      dynamodb: await port(DEFAULT_PORTS.dynamodb),
      cognito: await port(DEFAULT_PORTS.cognito),
      redis: await port(DEFAULT_PORTS.redis),
      deletionQueue: await port(DEFAULT_PORTS.deletionQueue),
      eventBus: await port(DEFAULT_PORTS.eventBus),
    };
    const lambdaInvokeUrl = `http://127.0.0.1:${ports.lambda}`;
    const cognitoDir = join(options.stateDir, 'cognito');
    rmSync(cognitoDir, { recursive: true, force: true });
    const triggerNames = Object.fromEntries(Object.entries(COGNITO_TRIGGERS).map(([trigger, fn]) => [trigger, fn]));

    // The three slow starters come up in parallel.
    const [dynamo, redis, cognito] = await Promise.all([
      startDynamoDbLocal(ports.dynamodb).then((d) => (processes.push(d.process), d)),
      startRedis({ port: ports.redis, required: options.requireRedis, url: options.redisUrl }).then((r) => (r.process && processes.push(r.process), r)),
      startCognitoLocal({ dir: cognitoDir, port: ports.cognito, lambdaEndpoint: lambdaInvokeUrl, triggers: triggerNames }).then(
        (c) => (processes.push(c.process), c),
      ),
    ]);

    const client = (streamClient = localDynamoClient(dynamo.endpoint));
    const tables = await createTables(client, 'entitlements-local');

    for (const [name, factory] of Object.entries(LOCAL_SERVICES)) {
      services.push(await factory.start({ port: await port(factory.defaultPort), stateDir: options.stateDir, gatewayUrl: `http://127.0.0.1:${ports.gateway}` }).catch((err: Error) => {
        throw new Error(`${name} emulator failed to start: ${err.message}`);
      }));
    }

    // The deletion queue delivers to the worker like Lambda's SQS event source; the handler is bound once loaded.
    let handlers: HandlerTable = {};
    const consumer = QUEUE_CONSUMERS.deletion;
    const deletionQueue = await startLocalQueue({
      name: 'deletion',
      port: ports.deletionQueue,
      deliver: async (event) => {
        const worker = handlers[consumer];
        if (!worker) throw new Error(`${consumer} is not loaded yet`);
        return worker(event, lambdaContext(consumer, randomBytes(8).toString('hex'), (FUNCTIONS[consumer].timeoutSeconds ?? 10) * 1000));
      },
    });
    queues.push(deletionQueue);

    const eventBus = await startLocalEventBus({
      port: ports.eventBus,
      busName: 'entitlements-local',
      ...(options.eventsWebhookUrl ? { webhookUrl: options.eventsWebhookUrl } : {}),
      ...(options.eventsWebhookSecret ? { webhookSecret: options.eventsWebhookSecret } : {}),
    });
    services.push({
      name: 'event bus',
      url: eventBus.endpoint,
      env: { EVENT_BUS_NAME: eventBus.busName, EVENTBRIDGE_ENDPOINT: eventBus.endpoint },
      stop: eventBus.stop,
    });

    const internalApiKey = options.internalApiKey ?? `local_${randomBytes(24).toString('base64url')}`;
    const kofiVerificationToken = options.kofiVerificationToken ?? `kofi_local_${randomBytes(18).toString('base64url')}`;
    const handlerEnv: Record<string, string> = {
      AWS_REGION: LOCAL_AWS.region,
      AWS_ACCESS_KEY_ID: LOCAL_AWS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: LOCAL_AWS.secretAccessKey,
      DYNAMODB_ENDPOINT: dynamo.endpoint,
      ...tables.env,
      ...(redis.url ? { REDIS_URL: redis.url } : { REDIS_DISABLED: 'true' }),
      INTERNAL_API_KEYS: internalApiKey,
      KOFI_VERIFICATION_TOKEN: kofiVerificationToken,
      COGNITO_USER_POOL_ID: cognito.userPoolId,
      COGNITO_CLIENT_IDS: cognito.clientId,
      COGNITO_ENDPOINT: cognito.endpoint,
      // Where Checkout sends users back to: your app's dev server.
      APP_BASE_URL: process.env.APP_BASE_URL ?? 'http://localhost:5173/',
      DELETION_QUEUE_URL: deletionQueue.url,
      // The catalogue the handlers read (the emulator's prices are the "local" environment's).
      CATALOGUE_FILE: catalogueFile,
      CATALOGUE_ENVIRONMENT: catalogueEnvironment,
      SQS_ENDPOINT: deletionQueue.endpoint,

      POWERTOOLS_SERVICE_NAME: 'entitlements-local',
      POWERTOOLS_LOG_LEVEL: options.logLevel ?? 'WARN',
      ...Object.assign({}, ...services.map((s) => s.env)),
    };
    // Handlers read their configuration at module load, as on Lambda.
    Object.assign(process.env, handlerEnv);
    handlers = await loadHandlers(Object.keys(FUNCTIONS) as FunctionName[]);

    // Each table stream delivers to its consumer like Lambda's DynamoDB Streams event source.
    for (const [tableId, consumer] of Object.entries(STREAM_CONSUMERS) as Array<[TableId, FunctionName]>) {
      const streamHandler = handlers[consumer];
      if (!streamHandler) throw new Error(`${consumer} is not loaded`);
      pollers.push(
        await startTableStream({
          dynamo: client,
          endpoint: dynamo.endpoint,
          tableName: tables.names[tableId],
          deliver: async (event) => streamHandler(event, lambdaContext(consumer, randomBytes(8).toString('hex'), (FUNCTIONS[consumer].timeoutSeconds ?? 10) * 1000)),
        }),
      );
    }

    const authorize = await createLocalCognitoAuthorizer({ issuer: cognito.issuer, jwksUri: cognito.jwksUri });
    const gateway = createGateway({ handlers, authorize, extraRoutes: docsRoutes(`http://127.0.0.1:${ports.gateway}`) });
    const lambda = createLambdaInvokeServer(handlers as Record<string, never>);
    await listen(gateway, ports.gateway);
    servers.push(gateway);
    await listen(lambda, ports.lambda);
    servers.push(lambda);
    const expressions = scheduleExpressions(REPO_ROOT);
    if (options.schedules !== false) schedules = startLocalSchedules(() => handlers, expressions);
    // After the Lambda-invoke server is up: confirming the demo user runs the post-confirmation trigger.
    const demoUser = await seedDemoUser({
      cognito,
      dynamodbEndpoint: dynamo.endpoint,
      tables: { users: tables.names.users, entitlements: tables.names.entitlements, emailOwners: tables.names.emailOwners },
      redisUrl: redis.url,
      catalogue,
    }).catch((err: Error) => ({ error: err.message }));

    const state: StackState = {
      startedAt: new Date(started).toISOString(),
      startupMs: Date.now() - started,
      gatewayUrl: `http://127.0.0.1:${ports.gateway}`,
      lambdaInvokeUrl,
      dynamodbEndpoint: dynamo.endpoint,
      redis: { url: redis.url ?? null, source: redis.source },
      cognito: { endpoint: cognito.endpoint, userPoolId: cognito.userPoolId, clientId: cognito.clientId, issuer: cognito.issuer },
      internalApiKey,
      kofi: { webhookUrl: `http://127.0.0.1:${ports.gateway}/kofi/webhook`, verificationToken: kofiVerificationToken },
      services: Object.fromEntries(services.map((s) => [s.name, s.url])),
      queues: { deletion: deletionQueue.url },
      ...(schedules ? { schedules: expressions } : {}),
      events: { busUrl: eventBus.endpoint, busName: eventBus.busName, webhookUrl: options.eventsWebhookUrl ?? null, webhookSecret: eventBus.webhookSecret },
      handlerEnv,
      pid: process.pid,
      demoUser,
    };
    // Written whole, then renamed: a reader never sees half a file.
    const stateFile = join(options.stateDir, 'stack.json');
    writeFileSync(`${stateFile}.tmp`, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
    renameSync(`${stateFile}.tmp`, stateFile);
    return { state, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
