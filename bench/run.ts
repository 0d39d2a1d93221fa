/**
 * `npm run bench`: starts DynamoDB Local (tables from the shared definitions,
 * a fresh prefix) and connects to the Redis at REDIS_URL or
 * redis://127.0.0.1:6379, runs every bench/*.bench.ts module (BENCH_ONLY=name
 * runs one), prints one table and writes it as JSON to bench/results/, then
 * stops what it started. BENCH_ITERATIONS sets the calls per series (default
 * 20,000); BENCH_STRICT=1 exits 1 when a goal is missed.
 */
import '../scripts/quiet-logs';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { basename, join } from 'node:path';
import { createTables, LOCAL_AWS, localDynamoClient, startDynamoDbLocal } from '../infra/local/dynamodb';
import { freePort } from '../infra/local/processes';
import { answersPing } from '../infra/local/redis';
import { closeRedisClients } from '../shared/adapters/redis/client';
import { FUNCTIONS } from '../shared/routes';
import { buildCostModel, DEFAULT_ASSUMPTIONS, formatCostModel, STORE_CONSUME_DESIGN, USERS_ROW_CHECK_DESIGN, type ConsumeWriteUnits, type CostModel } from './cost-model';
import type { BenchContext, BenchModule, BenchRow } from './harness';

const BENCH_DIR = __dirname;

async function assertRedis(url: string): Promise<void> {
  if (!(await answersPing(url))) {
    throw new Error(`The benchmarks need Redis at ${url} (set REDIS_URL for another). Start one with:\n  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no`);
  }
}

function formatNumber(n: number | undefined, digits = 1): string {
  return n === undefined || Number.isNaN(n) ? '' : n.toFixed(digits);
}

/** A paired ratio's interquartile range and pair count, e.g. `1.02-1.21 (n=40)`. */
function formatSpread(r: BenchRow): string {
  return r.spread ? `${r.spread.low.toFixed(2)}-${r.spread.high.toFixed(2)} (n=${r.spread.pairs})` : '';
}

function table(rows: Array<BenchRow & { bench: string }>): string {
  const header = ['bench', 'name', 'median', 'p99', 'unit', 'ratio', 'spread (p25-p75)', 'goal', 'pass'];
  const body = rows.map((r) => [
    r.bench,
    r.name,
    formatNumber(r.median),
    formatNumber(r.p99),
    r.unit,
    formatNumber(r.ratio, 2),
    formatSpread(r),
    r.goal ?? '',
    r.pass === undefined ? '' : r.pass ? (r.warning ? 'yes?' : 'yes') : r.warning ? 'NO?' : 'NO',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((cells) => (cells[i] as string).length)));
  const numeric = new Set([2, 3, 5]);
  const line = (cells: string[]) => cells.map((c, i) => (numeric.has(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}

/** The cost model from the measured medians (premium hit and miss, consume latency), when those benches ran. */
function costModelOf(rows: ReadonlyArray<BenchRow & { bench: string }>): CostModel | undefined {
  const median = (bench: string, name: string, toMs: number) => {
    const r = rows.find((x) => x.bench === bench && x.name === name);
    return r ? r.median * toMs : undefined;
  };
  const premiumHitMs = median('premium', 'premium check, cache hit (handler in-process)', 1e-3);
  const premiumMissMs = median('premium', 'premium check, cache miss (handler in-process)', 1e-3);
  const consumeMs = rows.find((x) => x.bench === 'consume' && x.name.startsWith('consume, concurrency') && x.unit === 'ms')?.median;
  if (premiumHitMs === undefined || premiumMissMs === undefined || consumeMs === undefined) return undefined;
  const memoryMb = { premiumCheck: FUNCTIONS['premium-check'].memorySize ?? 256, consume: FUNCTIONS['token-consume'].memorySize ?? 256 };
  // Write units per consume as measured (rows `consume: write units per consume (<design>), ...`), the store's design first.
  const units = (design: string, when: string) => rows.find((x) => x.bench === 'consume' && x.name === `consume: write units per consume (${design}), ${when}`)?.median;
  const consumeUnits: ConsumeWriteUnits[] = [];
  for (const design of [STORE_CONSUME_DESIGN, USERS_ROW_CHECK_DESIGN]) {
    const steady = units(design, 'steady state');
    const firstOfPeriod = units(design, 'first of a period');
    // The store's design first, or none measured: the model prices the first as today's.
    if (steady === undefined || firstOfPeriod === undefined) break;
    consumeUnits.push({ design, steady, firstOfPeriod, source: 'measured' });
  }
  return buildCostModel({ premiumHitMs, premiumMissMs, consumeMs }, { ...DEFAULT_ASSUMPTIONS, memoryMb }, consumeUnits);
}

/**
 * The machine's load when the run starts: the ratios are paired so that load
 * hits both sides alike, but a machine already busier than its cores makes
 * every figure noisier, and the table's verdicts less certain.
 */
function machineAtStart(): { cores: number; load: number[]; busy: boolean; text: string } {
  const cores = cpus().length;
  const load = loadavg();
  const busy = (load[0] ?? 0) >= cores * 0.5;
  const text =
    `machine at start: ${cores} cores, load average ${load.map((l) => l.toFixed(2)).join(' / ')} (1 / 5 / 15 min)` +
    (busy ? ` - WARNING: the 1-minute load is at least half the cores; expect wide spreads (stop other work for figures to quote)` : '');
  return { cores, load, busy, text };
}

async function main(): Promise<number> {
  const only = process.env.BENCH_ONLY;
  const files = readdirSync(BENCH_DIR)
    .filter((f) => f.endsWith('.bench.ts'))
    .filter((f) => !only || basename(f, '.bench.ts') === only)
    .sort();
  if (files.length === 0) throw new Error(`No bench/*.bench.ts module${only ? ` named ${only}` : ''}`);

  const redisUrl = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
  await assertRedis(redisUrl);
  const log = (message: string) => process.stderr.write(`[bench] ${message}\n`);
  const machine = machineAtStart();
  log(machine.text);
  log('starting DynamoDB Local...');
  const dynamo = await startDynamoDbLocal(await freePort());
  try {
    const admin = localDynamoClient(dynamo.endpoint);
    const tables = await createTables(admin, `bench-${randomBytes(3).toString('hex')}`);
    admin.destroy();
    const internalApiKey = `bench_${randomBytes(18).toString('base64url')}`;
    const env: Record<string, string> = {
      AWS_REGION: LOCAL_AWS.region,
      AWS_ACCESS_KEY_ID: LOCAL_AWS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: LOCAL_AWS.secretAccessKey,
      DYNAMODB_ENDPOINT: dynamo.endpoint,
      ...tables.env,
      REDIS_URL: redisUrl,
      INTERNAL_API_KEYS: internalApiKey,
      POWERTOOLS_LOG_LEVEL: 'SILENT',
      // The handler modules the benches import load the catalogue's local prices at module load, as the local stack's do.
      CATALOGUE_ENVIRONMENT: 'local',
    };
    Object.assign(process.env, env);
    const ctx: BenchContext = {
      env,
      dynamodbEndpoint: dynamo.endpoint,
      redisUrl,
      tables: tables.names,
      internalApiKey,
      iterations: Number(process.env.BENCH_ITERATIONS ?? 20_000),
      log,
    };

    const rows: Array<BenchRow & { bench: string }> = [];
    for (const file of files) {
      const bench = basename(file, '.bench.ts');
      log(`running ${bench}...`);
      const mod = (await import(join(BENCH_DIR, file))) as Partial<BenchModule>;
      if (typeof mod.run !== 'function') throw new Error(`bench/${file} does not export run(ctx)`);
      for (const r of await mod.run(ctx)) rows.push({ bench, ...r });
    }

    process.stdout.write(`\n${machine.text}\n\n${table(rows)}\n\n`);
    const uncertain = rows.filter((r) => r.warning);
    if (uncertain.length > 0) {
      process.stdout.write(`Verdicts marked ? are not meaningful on this run:\n${uncertain.map((r) => `  ${r.bench}/${r.name}: ${r.warning}`).join('\n')}\n\n`);
    }
    const costModel = costModelOf(rows);
    process.stdout.write(costModel ? `${formatCostModel(costModel)}\n\n` : 'Cost model: needs the premium and consume benches (not run).\n\n');
    const resultsDir = join(BENCH_DIR, 'results');
    mkdirSync(resultsDir, { recursive: true });
    const stamp = new Date().toISOString().replace(/[:.]/g, '-');
    const file = join(resultsDir, `${stamp}.json`);
    const cpu = cpus()[0];
    writeFileSync(
      file,
      `${JSON.stringify({ at: new Date().toISOString(), node: process.version, cpu: cpu?.model, cpus: cpus().length, loadAtStart: machine.load, iterations: ctx.iterations, redisUrl, rows, costModel }, null, 2)}\n`,
    );
    process.stdout.write(`Results: ${file}\n`);
    const missed = rows.filter((r) => r.pass === false);
    if (missed.length > 0) process.stdout.write(`Goals missed: ${missed.map((r) => `${r.bench}/${r.name}`).join(', ')}\n`);
    return missed.length > 0 && process.env.BENCH_STRICT === '1' ? 1 : 0;
  } finally {
    await closeRedisClients();
    await dynamo.process.stop();
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`bench failed: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
