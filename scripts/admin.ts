/**
 * Ops and local admin commands:
 *
 *   npm run admin -- set-premium <email> true [tier]|false|clear
 *   npm run admin -- show <email>
 *   npm run admin -- reconcile [--user <userId>]
 *
 * `reconcile` runs the reconciler's full pass once, with the same use-case
 * code as the scheduled function: Stripe events whose delivery failed are
 * re-applied, every subscribed customer is compared with Stripe (a drifted
 * row is rewritten), and profiles whose Cognito user is gone (deleted with
 * the user's own token, `DeleteUser`) and deletions that stopped are deleted
 * to the end, inline, with the same saga as DELETE /me/account. It resumes
 * from the cursors a scheduled run stored and runs to the end. `--user`
 * checks one user only (and leaves the stored cursors alone). Exit 0 when
 * everything found was repaired, 3 when something could not be (see
 * `failed`, the sweeps' `failed`, and the logs; run it again).
 *
 * Target: the running local stack (its `stack.json` under LOCAL_STACK_DIR,
 * default `.local`) unless TABLE_USERS is set, in which case the environment
 * is used as a Lambda would (AWS_REGION, TABLE_*, REDIS_URL,
 * REDIS_AUTH_SECRET_ARN, AWS credentials from the usual chain). Writes go
 * through the same store and use-case code as the functions, then the user's
 * cache keys are invalidated.
 *
 * Exit codes: 0 done; 1 usage error or unknown user; 2 written but the cache
 * could not be invalidated (run it again once Redis answers).
 */
import './quiet-logs';
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { StackState } from '../infra/local/stack';
import { createDynamoClients, createSecretsClient } from '../shared/adapters/clients';
import { DynamoEntitlementStore } from '../shared/adapters/dynamodb/entitlements-store';
import { DynamoUserStore } from '../shared/adapters/dynamodb/users-store';
import { createReadThroughCache } from '../shared/adapters/redis/cache';
import { closeRedisClients, connectRedis } from '../shared/adapters/redis/client';
import { resolveSecret } from '../shared/adapters/secrets';
import { awsSection, cacheSection, loadConfig, redisSection, tablesSection } from '../shared/config';
import { loadCatalogue } from '../shared/config/catalogue';
import { deletion } from '../shared/wiring/deletion';
import { accessDecider } from '../shared/wiring/access';
import { findPlan, type PlanName } from '../shared/domain/catalogue';
import type { ProfileSweep } from '../shared/ports/account-deletion';
import { runAccountDeletion } from '../shared/use-cases/delete-account';
import type { ReconcileIdentitiesDeps } from '../shared/use-cases/reconcile-identities';
import { reconcile as reconcileOnce, type ReconcileDeps } from '../shared/use-cases/reconcile';
import { reconciliation } from '../shared/wiring/reconcile';
import { emailField } from '../shared/http/schemas';
import { cacheKeys } from '../shared/ports/cache';
import { describeAccess, setPremiumOverride, userCacheKeys } from '../shared/use-cases/premium-override';
import { UsageError } from './args';

const REPO_ROOT = resolve(__dirname, '..');
const USAGE = `Usage:
  npm run admin -- set-premium <email> true [tier]|false|clear
      true = grant (the tier's capabilities; default: the user's paid tier, else the catalogue's sources.admin.grantPlan),
      false = revoke every paid capability, clear = back to what billing says
  npm run admin -- show <email>
  npm run admin -- reconcile [--user <userId>]

Targets the running local stack (LOCAL_STACK_DIR/stack.json, default .local),
or, when TABLE_USERS is set, the AWS resources named by the environment.`;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The environment the functions run with: the local stack's, or this process's on AWS. */
function targetEnvironment(): { where: string } {
  if (process.env.TABLE_USERS) return { where: 'the environment (TABLE_USERS is set)' };
  const file = resolve(REPO_ROOT, process.env.LOCAL_STACK_DIR ?? '.local', 'stack.json');
  if (!existsSync(file)) {
    throw new UsageError(`No local stack state at ${file}. Start one with \`npm run local\`, or set the AWS environment (TABLE_*, AWS_REGION, REDIS_URL...).`);
  }
  const state = JSON.parse(readFileSync(file, 'utf8')) as StackState;
  if (!alive(state.pid)) throw new UsageError(`The local stack that wrote ${file} (pid ${state.pid}) is not running. Start it with \`npm run local\`.`);
  // The SDK reads credentials and region from process.env, as in a Lambda.
  Object.assign(process.env, state.handlerEnv);
  return { where: file };
}

function parseOverride(word: string | undefined): boolean | undefined {
  switch (word) {
    case 'true':
      return true;
    case 'false':
      return false;
    case 'clear':
      return undefined;
    default:
      throw new UsageError(`set-premium takes true, false or clear, not ${JSON.stringify(word ?? '')}`);
  }
}

/** The full pass once, deletions run inline to the end. */
async function reconcile(args: string[]): Promise<number> {
  const [flag, onlyUser, ...rest] = args;
  if ((flag !== undefined && flag !== '--user') || (flag === '--user' && !onlyUser) || rest.length > 0) {
    throw new UsageError('reconcile takes no argument, or --user <userId>');
  }
  const { where } = targetEnvironment();
  process.stderr.write(`target: ${where}\n`);
  const { saga: deps, profiles, stallAfterMs, closeClients } = deletion();
  const reconciler = reconciliation();
  const oneProfile: ProfileSweep = {
    page: async () => {
      const profile = await deps.users.get(onlyUser!, { consistent: true });
      return { profiles: profile ? [{ userId: profile.userId, createdAt: profile.createdAt, deletingAt: profile.deletingAt }] : [] };
    },
  };
  // One user: no event log, that user's row, and progress kept in memory so a scheduled run's cursors stay where they are.
  const oneUser: Partial<ReconcileDeps> = onlyUser
    ? {
        undelivered: { page: async () => ({ events: [] }) },
        subscribers: {
          page: async () => {
            const profile = await deps.users.get(onlyUser, { consistent: true });
            return { subscribers: profile?.stripeCustomerId && !profile.deletingAt ? [{ userId: onlyUser, customerId: profile.stripeCustomerId }] : [] };
          },
        },
        progress: { get: async () => ({}), save: async () => undefined },
      }
    : {};
  const finished: string[] = [];
  const failed: Array<{ userId: string; error: string }> = [];
  try {
    const identitySweep: ReconcileIdentitiesDeps = {
      profiles: onlyUser ? oneProfile : profiles,
      identity: deps.identity,
      jobs: deps.jobs,
      now: deps.now,
      stallAfterMs,
      startDeletion: async (userId) => {
        // An operator's run has no function timeout: one run to the end (a lease of an hour keeps the worker off meanwhile).
        const now = Date.now();
        try {
          const progress = await runAccountDeletion(deps, { userId, source: 'sweep' }, { deadline: new Date(now + 3_600_000), leaseUntil: new Date(now + 3_600_000) });
          if (progress.state === 'deleted') finished.push(userId);
          else failed.push({ userId, error: 'another runner holds this deletion; it finishes it' });
        } catch (err) {
          failed.push({ userId, error: (err as Error).message });
        }
      },
    };
    // An operator's run has no function timeout: a day is "to the end".
    const report = await reconcileOnce({ ...reconciler, ...oneUser, identities: identitySweep }, 'full', new Date(Date.now() + 24 * 3_600_000));
    // The identity sweep's findings stay at the top, where this command has always printed them.
    const { identities, failedDeliveries, subscribers } = report;
    process.stdout.write(`${JSON.stringify({ ...identities, deleted: finished, failed, failedDeliveries, subscribers }, null, 2)}\n`);
    const sweeps = [failedDeliveries, subscribers, identities];
    return failed.length > 0 || sweeps.some((sweep) => sweep && (sweep.failed > 0 || !sweep.complete)) ? 3 : 0;
  } finally {
    await closeRedisClients();
    closeClients();
  }
}

async function main(argv: string[]): Promise<number> {
  if (argv[0] === 'reconcile') return reconcile(argv.slice(1));
  const [command, rawEmail, value, tierWord] = argv;
  if (command !== 'set-premium' && command !== 'show') throw new UsageError(command ? `Unknown command ${command}` : 'No command given');
  const override = command === 'set-premium' ? parseOverride(value) : undefined;
  if (tierWord !== undefined && override !== true) throw new UsageError('Only a grant (true) takes a tier');
  const parsed = emailField.safeParse(rawEmail ?? '');
  if (!parsed.success) throw new UsageError(`Not a valid email: ${JSON.stringify(rawEmail ?? '')}`);
  const email = parsed.data;
  const { where } = targetEnvironment();

  const config = loadConfig({ aws: awsSection, tables: tablesSection, redis: redisSection, cache: cacheSection });
  // Only plan names and the grant's plan are read here: they are the same in every Stripe environment.
  const catalogue = loadCatalogue(process.env.CATALOGUE_ENVIRONMENT ?? 'local');
  let grantTier: PlanName | undefined;
  if (tierWord !== undefined) {
    grantTier = findPlan(catalogue, tierWord)?.name;
    if (!grantTier || grantTier === catalogue.defaultPlan) {
      throw new UsageError(`Unknown paid plan ${JSON.stringify(tierWord)}; one of ${catalogue.plans.filter((t) => t.name !== catalogue.defaultPlan).map((t) => t.name).join(', ')}`);
    }
  }
  const dynamo = createDynamoClients(config.aws);
  const secrets = createSecretsClient(config.aws);
  const users = new DynamoUserStore(dynamo.doc, config.tables.TABLE_USERS, config.tables.TABLE_EMAIL_OWNERS);
  const entitlements = new DynamoEntitlementStore(dynamo.doc, { entitlements: config.tables.TABLE_ENTITLEMENTS, users: config.tables.TABLE_USERS });
  const { decide } = accessDecider(catalogue);
  const now = () => new Date();
  // An operator can wait longer than a request: a generous timeout, same client code.
  const redisConfig = { ...config.redis, REDIS_COMMAND_TIMEOUT_MS: Math.max(config.redis.REDIS_COMMAND_TIMEOUT_MS, 2000) };
  const redis = await connectRedis(redisConfig, (arn) => resolveSecret({ arn, name: 'redis auth token' }, () => secrets)).catch((err: Error) => {
    process.stderr.write(`warning: Redis unavailable (${err.message}); the cache cannot be read or invalidated\n`);
    return undefined;
  });
  const cache = createReadThroughCache(redis, config.cache);
  const print = (value: unknown) => process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);

  try {
    process.stderr.write(`target: ${where}\n`);
    if (command === 'set-premium') {
      const result = await setPremiumOverride({ users, entitlements, cache, decide, now }, email, override, grantTier);
      print(result);
      if (result.outcome === 'unknown-user') {
        process.stderr.write(`No user with the email ${email}.\n`);
        return 1;
      }
      if (result.outcome === 'gone') {
        process.stderr.write(`The user ${result.userId} is being deleted; nothing was written.\n`);
        return 1;
      }
      if (!result.cacheInvalidated) {
        process.stderr.write('Written to DynamoDB, but the cache could NOT be invalidated: the old answer may be served until its TTL ends. Run the command again once Redis answers.\n');
        return 2;
      }
      return 0;
    }

    const user = await users.findByEmail(email);
    const row = user ? await entitlements.get(user.userId, { consistent: true }) : undefined;
    const keys = user ? userCacheKeys(user) : [cacheKeys.premium(email)];
    const cached: Record<string, unknown> = {};
    for (const key of keys) {
      const entry = await cache.peek(key).catch((err: Error) => ({ error: err.message }));
      cached[key] = entry && 'ttlMs' in entry ? { value: entry.value, ttlSeconds: Math.round(entry.ttlMs / 1000) } : (entry ?? null);
    }
    print({
      email,
      user: user ?? null,
      entitlement: row ?? null,
      access: user?.deletingAt ? { premium: false, accessReason: 'account being deleted' } : describeAccess(row, decide, now()),
      cache: redis ? cached : 'disabled',
    });
    return user ? 0 : 1;
  } finally {
    await closeRedisClients();
    dynamo.raw.destroy();
    secrets.destroy();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof UsageError) {
      process.stderr.write(`${err.message}\n\n${USAGE}\n`);
      process.exit(1);
    }
    process.stderr.write(`admin failed: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
