/**
 * The `npm run bench` contract. bench/run.ts starts what the benchmarks need
 * (DynamoDB Local with the shared table definitions; the Redis at REDIS_URL
 * or 127.0.0.1:6379), applies `ctx.env` to process.env (handlers read their
 * configuration at module load), then calls every bench/*.bench.ts module's
 * `run(ctx)` in turn and prints the rows they return as one table.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { TableId } from '../shared/adapters/dynamodb/tables';

export interface BenchContext {
  /** A handler environment: region and local credentials, DYNAMODB_ENDPOINT, TABLE_*, REDIS_URL, INTERNAL_API_KEYS. */
  env: Record<string, string>;
  dynamodbEndpoint: string;
  redisUrl: string;
  tables: Record<TableId, string>;
  internalApiKey: string;
  /** Calls per measured series (BENCH_ITERATIONS, default 20,000). */
  iterations: number;
  log: (message: string) => void;
}

export interface BenchRow {
  name: string;
  median: number;
  p99: number;
  unit: string;
  /** This row's median over its baseline's (for paired measurements: the median of the pair ratios). */
  ratio?: number;
  /** The pair ratios' spread: their interquartile range (p25-p75) and how many pairs. */
  spread?: RatioSpread;
  /** Why this row's verdict cannot be trusted (printed under the table). */
  warning?: string;
  /** e.g. "ratio <= 1.3". */
  goal?: string;
  pass?: boolean;
}

export interface BenchModule {
  run(ctx: BenchContext): Promise<BenchRow[]>;
}

/** The q-quantile (0..1) of samples, nearest rank. */
export function quantile(samples: readonly number[], q: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank] as number;
}

/** Ratios of side-by-side measurements (one pair per round or block), summarised. */
export interface RatioSpread {
  low: number;
  high: number;
  pairs: number;
}

export interface RatioSummary extends RatioSpread {
  median: number;
}

/** The median of pair ratios, with their interquartile range as the spread. */
export function summariseRatios(ratios: readonly number[]): RatioSummary {
  if (ratios.length === 0) throw new Error('no pair ratios to summarise');
  return { median: quantile(ratios, 0.5), low: quantile(ratios, 0.25), high: quantile(ratios, 0.75), pairs: ratios.length };
}

/**
 * Per-pair ratios of two interleaved series (sample i of `a` was taken beside
 * sample i of `b`): the series are cut into `blocks` consecutive blocks and
 * each block gives the ratio of its medians, so a slow spell of the machine
 * lands in both halves of a pair instead of in one side's median.
 */
export function blockRatios(a: readonly number[], b: readonly number[], blocks: number): number[] {
  const n = Math.min(a.length, b.length);
  const count = Math.max(1, Math.min(blocks, n));
  const size = Math.floor(n / count);
  const ratios: number[] = [];
  for (let i = 0; i < count; i += 1) {
    const from = i * size;
    const to = i === count - 1 ? n : from + size;
    ratios.push(quantile(a.slice(from, to), 0.5) / quantile(b.slice(from, to), 0.5));
  }
  return ratios;
}

export type RatioGoal = { atMost: number } | { atLeast: number };

/**
 * A ratio row's verdict: pass on the median of the pair ratios; and a warning
 * when the goal lies inside the ratios' interquartile range, where the same
 * machine could as well have given the other verdict.
 */
export function ratioVerdict(summary: RatioSummary, goal: RatioGoal): Pick<BenchRow, 'ratio' | 'spread' | 'goal' | 'pass' | 'warning'> {
  const limit = 'atMost' in goal ? goal.atMost : goal.atLeast;
  const pass = 'atMost' in goal ? summary.median <= goal.atMost : summary.median >= goal.atLeast;
  const straddles = summary.low <= limit && limit <= summary.high;
  const { median, ...spread } = summary;
  return {
    ratio: median,
    spread,
    goal: `p50 ratio ${'atMost' in goal ? '<=' : '>='} ${limit}`,
    pass,
    ...(straddles
      ? { warning: `the goal (${limit}) lies inside the pair ratios' spread ${summary.low.toFixed(2)}-${summary.high.toFixed(2)} over ${summary.pairs} pairs: this verdict could go either way on this machine now` }
      : {}),
  };
}

export function row(name: string, samples: readonly number[], unit: string, extra: Partial<BenchRow> = {}): BenchRow {
  return { name, median: quantile(samples, 0.5), p99: quantile(samples, 0.99), unit, ...extra };
}

let counterIds = 0;

/**
 * Counts the requests `client` sends, each attempt included (an SDK
 * middleware, so nothing is inferred from timings); `only` keeps the
 * commands it names (e.g. the writes). The benchmarks and the integration
 * tests of the one-request consume and of reconcile read and zero `requests`.
 * With `recordCommands`, `commands` also lists which ones (zero it with
 * `requests`); off by default, so a counter on a measured client adds no work.
 */
export function countRequests(
  client: DynamoDBClient,
  only: (commandName: string) => boolean = () => true,
  options: { recordCommands?: boolean } = {},
): { requests: number; commands: string[] } {
  const counter = { requests: 0, commands: [] as string[] };
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (only(context.commandName ?? '')) {
        counter.requests += 1;
        if (options.recordCommands) counter.commands.push((context.commandName ?? '?').replace(/Command$/, ''));
      }
      return next(args);
    },
    // A name of its own: several counters (each with its own filter) may watch one client.
    { step: 'finalizeRequest', name: `countRequests#${(counterIds += 1)}` },
  );
  return counter;
}

/**
 * Sums the capacity DynamoDB reports as consumed by `client`'s requests: an
 * SDK middleware asks every command for `ReturnConsumedCapacity: 'TOTAL'` and
 * adds up the `ConsumedCapacity` of the answers (one entry, or one per table
 * for transactions and batches), so write units are measured, not assumed.
 * Writes (Put, Update, Delete, BatchWrite, TransactWrite) count as write
 * units, everything else as read units. A refused request has no answer and
 * adds nothing.
 *
 * DynamoDB Local under-reports a transaction with several items on one
 * table: it adds up each distinct per-item figure once (measured: two
 * ledger entries under 1 KB report 2, not 4; one of 1.5 KB and one under
 * 1 KB report 6; two of 1.5 KB report 4). So for such a table a report of 2
 * (every item under 1 KB, the only way to get 2) counts 2 per item, and any
 * other report stops the count rather than print a figure that may be wrong.
 */
export function countCapacity(client: DynamoDBClient): { writeUnits: number; readUnits: number } {
  const counter = { writeUnits: 0, readUnits: 0 };
  const writes = /^(Put|Update|Delete|BatchWrite|TransactWrite)/;
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const input = args.input as { ReturnConsumedCapacity?: string; TransactItems?: Array<Record<string, { TableName?: string } | undefined>> };
      input.ReturnConsumedCapacity = 'TOTAL';
      const itemsPerTable = new Map<string, number>();
      for (const item of input.TransactItems ?? []) {
        const table = Object.values(item).find((action) => action?.TableName)?.TableName;
        if (table) itemsPerTable.set(table, (itemsPerTable.get(table) ?? 0) + 1);
      }
      const result = await next(args);
      const consumed = (result.output as { ConsumedCapacity?: ConsumedUnits | ConsumedUnits[] }).ConsumedCapacity;
      const units = (Array.isArray(consumed) ? consumed : consumed ? [consumed] : []).reduce((sum, c) => {
        const items = (c.TableName && itemsPerTable.get(c.TableName)) || 1;
        const reported = c.CapacityUnits ?? 0;
        if (items === 1) return sum + reported;
        if (reported === 2) return sum + 2 * items;
        throw new Error(`countCapacity: ${items} items on ${c.TableName} in one transaction reported ${reported} units, which cannot be split per item`);
      }, 0);
      if (writes.test(context.commandName ?? '')) counter.writeUnits += units;
      else counter.readUnits += units;
      return result;
    },
    { step: 'initialize', name: 'countCapacity' },
  );
  return counter;
}

interface ConsumedUnits {
  TableName?: string;
  CapacityUnits?: number;
}

/** Microseconds since `start` (process.hrtime.bigint()). */
export function microsSince(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1000;
}

/**
 * Times several operations against each other in one loop, rotating which
 * goes first, so drift (GC, other load on the machine) hits them alike.
 * Untimed: `beforeEach` before every operation (e.g. to force a miss) and
 * `verify` on every result (a benchmark of wrong answers is worthless).
 */
export async function interleaved(
  iterations: number,
  warmup: number,
  operations: ReadonlyArray<() => Promise<unknown>>,
  hooks: { beforeEach?: () => Promise<unknown>; verify?: (operation: number, result: unknown) => void } = {},
): Promise<number[][]> {
  const samples = operations.map(() => [] as number[]);
  for (let i = 0; i < warmup + iterations; i += 1) {
    for (let j = 0; j < operations.length; j += 1) {
      const which = (i + j) % operations.length;
      if (hooks.beforeEach) await hooks.beforeEach();
      const start = process.hrtime.bigint();
      const result = await operations[which]!();
      const elapsed = microsSince(start);
      if (i >= warmup) samples[which]!.push(elapsed);
      hooks.verify?.(which, result);
    }
  }
  return samples;
}
