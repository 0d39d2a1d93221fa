import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { build } from 'esbuild';
import { HOUSE_BUNDLING, HOUSE_NODE_OPTIONS, REPO_ROOT, catalogueDefine, sdkFromRuntime } from '../infra/constructs/house-function';
import { FUNCTIONS, handlerEntry, type FunctionDefinition, type FunctionName } from '../shared/routes';
import { coldStartEnv } from './cold-start-env';
import { ratioVerdict, row, summariseRatios, type BenchContext, type BenchRow } from './harness';

const KB = 1024;
/**
 * Bundle size goals: guards against accidental weight, not the load-time goal
 * (the `load:` rows measure that directly). Since the AWS SDK is bundled
 * (HOUSE_BUNDLING: it loads 1.2-1.3x faster than the runtime's copy although
 * the bundle is ~350 KB larger) a function without Stripe is 460-575 KB; 800 KB
 * still fails on the regressions seen so far: Stripe's SDK in a function that
 * never calls it (+300 KB), all of zod through `import { z }` (+340 KB).
 */
const SIZE_GOAL_KB = 800;
const STRIPE_SIZE_GOAL_KB = 1.5 * 1024;
const LOAD_GOAL = 3;

/** The size goal of a function's bundle: Stripe's SDK is allowed for the functions that call Stripe. */
export function sizeGoalKb(definition: Pick<FunctionDefinition, 'stripe'>): number {
  return definition.stripe ? STRIPE_SIZE_GOAL_KB : SIZE_GOAL_KB;
}

type Entry = { file: string } | { source: string };

/**
 * Bundles one entry (a file, or a source text resolved from the repository
 * root) with the CDK construct's esbuild options (HOUSE_BUNDLING), to
 * `<dir>/index.js`; `external` replaces HOUSE_BUNDLING's only for the
 * variant rows. Returns the bundle's size and its metafile's view of what it
 * holds (input files and the external packages it requires).
 */
async function bundle(entry: Entry, dir: string, external: readonly string[] = HOUSE_BUNDLING.externalModules): Promise<{ size: number; contains: Set<string> }> {
  const outfile = join(dir, 'index.js');
  const result = await build({
    ...('file' in entry ? { entryPoints: [entry.file] } : { stdin: { contents: entry.source, resolveDir: REPO_ROOT, sourcefile: 'probe.ts', loader: 'ts' as const } }),
    bundle: true,
    outfile,
    platform: 'node',
    target: HOUSE_BUNDLING.target,
    format: HOUSE_BUNDLING.format,
    mainFields: [...HOUSE_BUNDLING.mainFields],
    minify: HOUSE_BUNDLING.minify,
    sourcemap: HOUSE_BUNDLING.sourceMap,
    sourcesContent: HOUSE_BUNDLING.sourcesContent,
    external: [...external],
    // The catalogue compiled in, as HouseFunction does: the bundle reads no file at cold start.
    define: catalogueDefine(readFileSync(join(REPO_ROOT, 'entitlements.config.json'), 'utf8')),
    absWorkingDir: REPO_ROOT,
    metafile: true,
    logLevel: 'error',
  });
  const output = result.metafile.outputs[relative(REPO_ROOT, outfile)] ?? Object.values(result.metafile.outputs).find((o) => o.entryPoint || o.inputs);
  const contains = new Set<string>([
    ...Object.keys(output?.inputs ?? {}),
    ...(output?.imports ?? []).filter((i) => i.external).map((i) => `node_modules/${i.path}/`),
  ]);
  return { size: statSync(outfile).size, contains };
}

/**
 * What the functions load at cold start, one probe each: an entry that only
 * loads the module (and builds what the functions build from it, with the
 * same adapter code), bundled like a function and loaded in a fresh process
 * beside the empty handler in every round. Its increment over the empty
 * handler of the same round is the module's cost; `in` matches the paths a
 * function's bundle holds (its metafile inputs, or the external packages it
 * requires), to say which functions pay it. The probes overlap (the config
 * and catalogue probes include the part of zod they use; the clients include
 * the SDK core they share), so the rows do not add up to a function's load.
 */
const SETTINGS = "{ AWS_REGION: 'us-east-1', AWS_MAX_ATTEMPTS: 2, AWS_CONNECT_TIMEOUT_MS: 1000, AWS_REQUEST_TIMEOUT_MS: 2000 }";
export const MODULE_PROBES: ReadonlyArray<{ name: string; source: string; in: string }> = [
  {
    name: 'AWS SDK DynamoDB + lib-dynamodb, clients built',
    source: `import { createDynamoClients } from './shared/adapters/clients';\nexport const probe = createDynamoClients(${SETTINGS});`,
    in: 'node_modules/@aws-sdk/client-dynamodb/',
  },
  {
    name: 'AWS SDK Secrets Manager, client built',
    source: `import { createSecretsClient } from './shared/adapters/clients';\nexport const probe = createSecretsClient(${SETTINGS});`,
    in: 'node_modules/@aws-sdk/client-secrets-manager/',
  },
  {
    name: 'AWS SDK Cognito, client built',
    source: `import { createCognitoClient } from './shared/adapters/cognito/client';\nexport const probe = createCognitoClient(${SETTINGS});`,
    in: 'node_modules/@aws-sdk/client-cognito-identity-provider/',
  },
  {
    name: 'AWS SDK STS, client built',
    source: `import { createStsClient } from './shared/adapters/sts/client';\nexport const probe = createStsClient(${SETTINGS});`,
    in: 'node_modules/@aws-sdk/client-sts/',
  },
  {
    name: 'AWS SDK SQS, client built',
    source: `import { createSqsClient } from './shared/adapters/sqs/client';\nexport const probe = createSqsClient(${SETTINGS});`,
    in: 'node_modules/@aws-sdk/client-sqs/',
  },
  {
    name: 'AWS SDK EventBridge, client built',
    source: `import { createEventBridgeClient } from './shared/adapters/eventbridge/client';\nexport const probe = createEventBridgeClient(${SETTINGS});`,
    in: 'node_modules/@aws-sdk/client-eventbridge/',
  },
  // Not connected: a client connects as it is built; the module is what every Redis function loads.
  {
    name: 'Redis client (shared/adapters/redis/resp-client)',
    source: "import { RespClient } from './shared/adapters/redis/resp-client';\nexport const probe = RespClient;",
    in: 'shared/adapters/redis/resp-client.ts',
  },
  { name: 'Stripe SDK, client built', source: "import Stripe from 'stripe';\nexport const probe = new Stripe('sk_test_probe');", in: 'node_modules/stripe/' },
  { name: 'Powertools logger (shared/observability/logger)', source: "export { logger as probe } from './shared/observability/logger';", in: 'node_modules/@aws-lambda-powertools/logger/' },
  { name: 'Powertools metrics (shared/observability/metrics)', source: "export * as probe from './shared/observability/metrics';", in: 'node_modules/@aws-lambda-powertools/metrics/' },
  { name: 'zod, one schema built and parsed', source: "import * as z from 'zod';\nexport const probe = z.object({ a: z.string() }).parse({ a: 'x' });", in: 'node_modules/zod/' },
  {
    name: 'config: aws + tables sections parsed (zod incl.)',
    source: "import { awsConfig, tables } from './shared/wiring/aws-config';\nexport const probe = [awsConfig(), tables()];",
    in: 'shared/wiring/aws-config.ts',
  },
  {
    name: 'catalogue: bundled catalogue parsed, access policy (zod incl.)',
    source: "import { access } from './shared/wiring/access';\nexport const probe = access();",
    in: 'shared/wiring/access.ts',
  },
  { name: 'request schemas (shared/http/request-schemas, zod incl.)', source: "export * as probe from './shared/http/request-schemas';", in: 'shared/http/request-schemas.ts' },
];

/**
 * The two choices the deployed options make, measured on two functions (the
 * premium check: on the p99 of the paid API; post-confirmation: inside
 * Cognito's 5 s budget) against the deployed build of the same round:
 * the AWS SDK bundled instead of the runtime's copy, and NODE_OPTIONS with
 * and without --enable-source-maps (whichever the deployed one is not).
 */
const VARIANT_FUNCTIONS: readonly FunctionName[] = ['premium-check', 'post-confirmation'];

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

function loadOnce(bundleFile: string, env: Record<string, string>): number {
  const result = spawnSync(process.execPath, ['-e', LOADER], { env: { ...env, BENCH_BUNDLE: bundleFile }, encoding: 'utf8', timeout: 30_000 });
  if (result.status !== 0) throw new Error(`loading ${bundleFile} failed (exit ${result.status}): ${result.stderr.slice(0, 2000)}`);
  return Number(result.stdout);
}

interface Target {
  name: string;
  file: string;
  size: number;
  contains: Set<string>;
  env: Record<string, string>;
  kind: 'empty' | 'function' | 'module' | 'variant';
  definition?: FunctionDefinition;
  /** For a variant: the target (the deployed build of the same function) its ratio is taken against. */
  against?: number;
}

/**
 * Cold start of every function in FUNCTIONS:
 * - the minified bundle, built with the CDK construct's esbuild options
 *   (HOUSE_BUNDLING: minify, node22, cjs, the AWS SDK from its ES build); goal under
 *   800 KB, 1.5 MB for the functions that carry the Stripe SDK;
 * - the time from a fresh Node.js process's start until the bundle is loaded
 *   and its clients built (module load runs the wiring), with NODE_OPTIONS as
 *   deployed (HOUSE_NODE_OPTIONS), over BENCH_COLD_RUNS rounds (default 21)
 *   that load every bundle once, in a rotating order, beside an empty
 *   handler's bundle; goal: the median of the per-round ratios (function /
 *   empty handler) at most 3;
 * - where that time goes: `module:` rows, the increment of each probe
 *   (MODULE_PROBES) over the empty handler of the same round, and which
 *   functions hold that module;
 * - `variant:` rows, the deployed choices re-measured (VARIANT_FUNCTIONS):
 *   ratio of the variant's load to the deployed build's, same round.
 */
export async function run(ctx: BenchContext): Promise<BenchRow[]> {
  const runs = Number(process.env.BENCH_COLD_RUNS ?? 21);
  const dir = mkdtempSync(join(tmpdir(), 'bench-cold-start-'));
  try {
    const deployedEnv = coldStartEnv({ env: ctx.env, redisUrl: ctx.redisUrl, internalApiKey: ctx.internalApiKey, repoRoot: REPO_ROOT, nodeOptions: HOUSE_NODE_OPTIONS });
    const otherNodeOptions = HOUSE_NODE_OPTIONS.includes('--enable-source-maps') ? HOUSE_NODE_OPTIONS.replace('--enable-source-maps', '').trim() : `${HOUSE_NODE_OPTIONS} --enable-source-maps`.trim();
    const otherEnv = coldStartEnv({ env: ctx.env, redisUrl: ctx.redisUrl, internalApiKey: ctx.internalApiKey, repoRoot: REPO_ROOT, nodeOptions: otherNodeOptions });
    const targets: Target[] = [];
    const add = async (t: Omit<Target, 'file' | 'size' | 'contains'>, entry: Entry, external?: readonly string[]) => {
      const out = join(dir, `t${targets.length}`);
      const built = await bundle(entry, out, external);
      targets.push({ ...t, file: join(out, 'index.js'), ...built });
      return targets.length - 1;
    };
    ctx.log(`bundling ${Object.keys(FUNCTIONS).length} functions, an empty handler, ${MODULE_PROBES.length} module probes and ${VARIANT_FUNCTIONS.length * 2} variants with the CDK construct's esbuild options...`);
    await add({ name: '(empty handler)', env: deployedEnv, kind: 'empty' }, { source: "export const handler = async () => ({ statusCode: 200, body: '' });\n" });
    const deployed = new Map<FunctionName, number>();
    for (const definition of Object.values(FUNCTIONS)) {
      deployed.set(definition.name, await add({ name: definition.name, env: deployedEnv, kind: 'function', definition }, { file: join(REPO_ROOT, handlerEntry(definition.name)) }));
    }
    for (const probe of MODULE_PROBES) {
      await add({ name: probe.name, env: deployedEnv, kind: 'module' }, { source: `${probe.source}\nexport const handler = async () => ({});\n` });
    }
    for (const name of VARIANT_FUNCTIONS) {
      const against = deployed.get(name)!;
      const entry = { file: join(REPO_ROOT, handlerEntry(name)) };
      // The other side of the SDK decision: the runtime's copy if the deployed bundle carries the SDK, and the reverse.
      const variantFromRuntime = !sdkFromRuntime(HOUSE_BUNDLING.externalModules);
      const variantExternals = variantFromRuntime ? ['@aws-sdk/*'] : [];
      await add({ name: `${name}, ${variantFromRuntime ? 'AWS SDK external (runtime copy)' : 'AWS SDK bundled'}`, env: deployedEnv, kind: 'variant', against }, entry, variantExternals);
      await add({ name: `${name}, NODE_OPTIONS='${otherNodeOptions}'`, env: otherEnv, kind: 'variant', against }, entry);
    }

    ctx.log(`cold start: ${runs} rounds of fresh processes (${targets.length} bundles each)...`);
    for (const t of targets) loadOnce(t.file, t.env); // warm the OS file cache; not counted
    const samples = targets.map(() => [] as number[]);
    for (let r = 0; r < runs; r += 1) {
      for (let j = 0; j < targets.length; j += 1) {
        const i = (r + j) % targets.length;
        samples[i]!.push(loadOnce(targets[i]!.file, targets[i]!.env));
      }
    }

    const empty = samples[0]!;
    const rows: BenchRow[] = [];
    rows.push(row('load: (empty handler), fresh process', empty, 'ms'));
    targets.forEach((t, i) => {
      if (t.kind !== 'function') return;
      // One pair per round: the function's load beside the empty handler's load of the same round.
      const ratios = summariseRatios(samples[i]!.map((ms, r) => ms / empty[r]!));
      rows.push(row(`load: ${t.name}, fresh process`, samples[i]!, 'ms', ratioVerdict(ratios, { atMost: LOAD_GOAL })));
    });
    const functions = targets.filter((t) => t.kind === 'function');
    targets.forEach((t, i) => {
      if (t.kind !== 'module') return;
      const probe = MODULE_PROBES.find((p) => p.name === t.name)!;
      const holders = functions.filter((f) => [...f.contains].some((path) => path.includes(probe.in))).map((f) => f.name);
      ctx.log(`module: ${t.name}: in ${holders.length ? holders.join(', ') : 'no function'}`);
      // The increment over the empty handler of the same round: what loading this module adds.
      const increments = samples[i]!.map((ms, r) => ms - empty[r]!);
      rows.push(row(`module: ${t.name} (+ms; in ${holders.length}/${functions.length} fns)`, increments, 'ms'));
    });
    targets.forEach((t, i) => {
      if (t.kind !== 'variant') return;
      const base = samples[t.against!]!;
      // Against the deployed build of the same function, same round; no goal: it informs the decision in README.
      const { ratio, spread } = ratioVerdict(summariseRatios(samples[i]!.map((ms, r) => ms / base[r]!)), { atMost: 1 });
      rows.push(row(`variant: ${t.name} (vs deployed)`, samples[i]!, 'ms', { ratio, spread }));
    });
    targets.forEach((t) => {
      if (t.kind === 'variant' && t.name.includes('AWS SDK')) {
        const kb = t.size / KB;
        rows.push({ name: `bundle: ${t.name}`, median: kb, p99: kb, unit: 'KB' });
      }
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
