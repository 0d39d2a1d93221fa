import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { HOUSE_BUNDLING, REPO_ROOT, catalogueDefine } from '../infra/constructs/house-function';
import { FUNCTIONS, handlerEntry, type FunctionDefinition } from '../shared/routes';
import { ratioVerdict, row, summariseRatios, type BenchContext, type BenchRow } from './harness';

const KB = 1024;
const SIZE_GOAL_KB = 500;
const STRIPE_SIZE_GOAL_KB = 1.5 * 1024;
const LOAD_GOAL = 3;

/** The size goal of a function's bundle: Stripe's SDK is allowed for the functions that call Stripe. */
export function sizeGoalKb(definition: Pick<FunctionDefinition, 'stripe'>): number {
  return definition.stripe ? STRIPE_SIZE_GOAL_KB : SIZE_GOAL_KB;
}

/** Bundles one entry with the CDK construct's esbuild options (HOUSE_BUNDLING), to `<dir>/index.js`. */
async function bundle(entry: string, dir: string): Promise<number> {
  const outfile = join(dir, 'index.js');
  await build({
    entryPoints: [entry],
    bundle: true,
    outfile,
    platform: 'node',
    target: HOUSE_BUNDLING.target,
    format: HOUSE_BUNDLING.format,
    minify: HOUSE_BUNDLING.minify,
    sourcemap: HOUSE_BUNDLING.sourceMap,
    sourcesContent: HOUSE_BUNDLING.sourcesContent,
    external: [...HOUSE_BUNDLING.externalModules],
    // The catalogue compiled in, as HouseFunction does: the bundle reads no file at cold start.
    define: catalogueDefine(readFileSync(join(REPO_ROOT, 'entitlements.config.json'), 'utf8')),
    absWorkingDir: REPO_ROOT,
    logLevel: 'error',
  });
  return statSync(outfile).size;
}

/**
 * Runs in the fresh process: requires the bundle (which parses the
 * configuration and builds the function's clients at module load, as on a
 * Lambda cold start), checks it exports `handler`, and prints the time since
 * the process started (performance.now(): Node.js boot + load + init).
 */
const LOADER = `
const m = require(process.env.BENCH_BUNDLE);
const ready = performance.now();
if (typeof m.handler !== 'function') { console.error('no handler export'); process.exit(2); }
process.stdout.write(String(ready));
process.exit(0);
`;

/**
 * A handler's environment as the CDK stack sets it, with local values: every
 * variable shared/config requires for any function (secrets given directly,
 * as the local stack does, instead of their Secrets Manager ARNs).
 */
function handlerEnv(ctx: BenchContext): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '',
    // The deployed functions run with source maps on (house-function.ts).
    NODE_OPTIONS: '--enable-source-maps',
    // Externals (@aws-sdk/*) come from here, as they come from the runtime's own node_modules on Lambda.
    NODE_PATH: join(REPO_ROOT, 'node_modules'),
    POWERTOOLS_SERVICE_NAME: 'entitlements',
    POWERTOOLS_METRICS_NAMESPACE: 'entitlements',
    POWERTOOLS_LOG_LEVEL: 'SILENT',
    LOG_LEVEL: 'SILENT',
    ...ctx.env,
    AWS_REGION: ctx.env.AWS_REGION ?? 'us-east-1',
    REDIS_URL: ctx.redisUrl,
    INTERNAL_API_KEYS: ctx.internalApiKey,
    COGNITO_USER_POOL_ID: 'us-east-1_bench0000',
    COGNITO_CLIENT_IDS: 'benchclient000000000000000',
    STRIPE_SECRET_KEY: 'sk_test_bench',
    STRIPE_WEBHOOK_SECRET: 'whsec_bench',
    KOFI_VERIFICATION_TOKEN: 'kofi-bench-token',
    EVENT_BUS_NAME: 'bench-entitlements',
    APP_BASE_URL: 'https://app.example.com',
    CATALOGUE_ENVIRONMENT: 'local',
    CREDENTIALS_ROLE_ARN: 'arn:aws:iam::123456789012:role/bench-subscriber-credentials',
    STS_ENDPOINT: 'http://127.0.0.1:9',
    DELETION_QUEUE_URL: 'https://sqs.us-east-1.amazonaws.com/123456789012/bench-deletion',
  };
}

function loadOnce(bundleFile: string, env: Record<string, string>): number {
  const result = spawnSync(process.execPath, ['-e', LOADER], { env: { ...env, BENCH_BUNDLE: bundleFile }, encoding: 'utf8', timeout: 30_000 });
  if (result.status !== 0) throw new Error(`loading ${bundleFile} failed (exit ${result.status}): ${result.stderr.slice(0, 2000)}`);
  return Number(result.stdout);
}

/**
 * Cold start of every function in FUNCTIONS:
 * - the minified bundle, built with the CDK construct's esbuild options
 *   (HOUSE_BUNDLING: minify, node22, cjs, `@aws-sdk/*` external); goal under
 *   500 KB, 1.5 MB for the functions that carry the Stripe SDK;
 * - the time from a fresh Node.js process's start until the bundle is loaded
 *   and its clients built (module load runs the wiring), over
 *   BENCH_COLD_RUNS runs (default 21), in rounds that load every bundle once,
 *   in a rotating order, beside an empty handler's bundle; goal: the median
 *   of the per-round ratios (function / empty handler) at most 3.
 */
export async function run(ctx: BenchContext): Promise<BenchRow[]> {
  const runs = Number(process.env.BENCH_COLD_RUNS ?? 21);
  const dir = mkdtempSync(join(tmpdir(), 'bench-cold-start-'));
  try {
    const emptyEntry = join(dir, 'empty-handler.ts');
    writeFileSync(emptyEntry, "export const handler = async () => ({ statusCode: 200, body: '' });\n");
    const targets: Array<{ name: string; file: string; size: number; definition?: FunctionDefinition }> = [];
    ctx.log(`bundling ${Object.keys(FUNCTIONS).length} functions and an empty handler with the CDK construct's esbuild options...`);
    targets.push({ name: '(empty handler)', file: join(dir, 'empty', 'index.js'), size: await bundle(emptyEntry, join(dir, 'empty')) });
    for (const definition of Object.values(FUNCTIONS)) {
      const out = join(dir, definition.name);
      targets.push({ name: definition.name, file: join(out, 'index.js'), size: await bundle(join(REPO_ROOT, handlerEntry(definition.name)), out), definition });
    }

    const env = handlerEnv(ctx);
    ctx.log(`cold start: ${runs} fresh processes per bundle (${targets.length} bundles)...`);
    for (const t of targets) loadOnce(t.file, env); // warm the OS file cache; not counted
    const samples = targets.map(() => [] as number[]);
    for (let r = 0; r < runs; r += 1) {
      for (let j = 0; j < targets.length; j += 1) {
        const i = (r + j) % targets.length;
        samples[i]!.push(loadOnce(targets[i]!.file, env));
      }
    }

    const rows: BenchRow[] = [];
    rows.push(row('load: (empty handler), fresh process', samples[0]!, 'ms'));
    targets.forEach((t, i) => {
      if (!t.definition) return;
      // One pair per round: the function's load beside the empty handler's load of the same round.
      const ratios = summariseRatios(samples[i]!.map((ms, r) => ms / samples[0]![r]!));
      rows.push(row(`load: ${t.name}, fresh process`, samples[i]!, 'ms', ratioVerdict(ratios, { atMost: LOAD_GOAL })));
    });
    targets.forEach((t) => {
      if (!t.definition) return;
      const kb = t.size / KB;
      const goal = sizeGoalKb(t.definition);
      rows.push({ name: `bundle: ${t.name}${t.definition.stripe ? ' (Stripe SDK)' : ''}`, median: kb, p99: kb, unit: 'KB', goal: `< ${goal} KB`, pass: kb < goal });
    });
    return rows;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
