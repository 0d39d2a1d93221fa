/**
 * Dollars per million premium checks and per million consumes on AWS list
 * prices, from the measured durations and request counts. Pure: bench/run.ts
 * feeds it the table's rows and prints the result with every assumption.
 */

/** AWS list prices, us-east-1, on-demand (USD). */
export interface Prices {
  /** Lambda arm64, per GB-second. */
  lambdaGbSecond: number;
  /** Lambda, per request. */
  lambdaRequest: number;
  /** API Gateway REST API, per request (first 333 million a month). */
  restApiRequest: number;
  /** DynamoDB on-demand, per read request unit. */
  dynamoReadUnit: number;
  /** DynamoDB on-demand, per write request unit. */
  dynamoWriteUnit: number;
}

export const US_EAST_1_LIST_PRICES: Prices = {
  lambdaGbSecond: 0.0000133334,
  lambdaRequest: 0.2 / 1e6,
  restApiRequest: 3.5 / 1e6,
  dynamoReadUnit: 0.125 / 1e6,
  dynamoWriteUnit: 0.625 / 1e6,
};

/** What one operation costs in billable units. */
export interface OperationUsage {
  /** Billed Lambda duration per invocation, ms (Lambda bills in 1 ms steps). */
  billedMs: number;
  memoryMb: number;
  /** Expected DynamoDB read request units per operation. */
  readUnits: number;
  /** Expected DynamoDB write request units per operation. */
  writeUnits: number;
}

export interface CostPerMillion {
  lambdaCompute: number;
  lambdaRequests: number;
  apiGateway: number;
  dynamoReads: number;
  dynamoWrites: number;
  total: number;
}

/** Lambda bills duration rounded up to the millisecond, at least 1 ms. */
export function billedMs(measuredMs: number, allowanceMs: number): number {
  return Math.max(1, Math.ceil(measuredMs + allowanceMs));
}

/** Dollars per million operations, each one API Gateway request and one Lambda invocation. */
export function costPerMillion(usage: OperationUsage, prices: Prices = US_EAST_1_LIST_PRICES): CostPerMillion {
  const million = 1e6;
  const lambdaCompute = (usage.memoryMb / 1024) * (usage.billedMs / 1000) * prices.lambdaGbSecond * million;
  const lambdaRequests = prices.lambdaRequest * million;
  const apiGateway = prices.restApiRequest * million;
  const dynamoReads = usage.readUnits * prices.dynamoReadUnit * million;
  const dynamoWrites = usage.writeUnits * prices.dynamoWriteUnit * million;
  return { lambdaCompute, lambdaRequests, apiGateway, dynamoReads, dynamoWrites, total: lambdaCompute + lambdaRequests + apiGateway + dynamoReads + dynamoWrites };
}

/**
 * Read request units: 1 per 4 KB for a strongly consistent read, 0.5 for an
 * eventually consistent one (every GSI query is). Write request units: 1 per
 * 1 KB written, 2 per 1 KB for each item of a transaction.
 */
export function readUnits(itemKb: number, consistent: boolean): number {
  return Math.max(1, Math.ceil(itemKb / 4)) * (consistent ? 1 : 0.5);
}
export function transactionWriteUnits(itemKbs: readonly number[]): number {
  return itemKbs.reduce((sum, kb) => sum + 2 * Math.max(1, Math.ceil(kb)), 0);
}

export interface CostAssumptions {
  prices: Prices;
  memoryMb: { premiumCheck: number; consume: number };
  /** Share of premium checks answered from the cache. */
  cacheHitRatio: number;
  /** Added to the in-process medians measured on loopback: the VPC round trips the local run does not pay. */
  networkAllowanceMs: { premiumHit: number; premiumMiss: number; consume: number };
  /** Item sizes (KB) the request units are computed from. */
  itemKb: { user: number; entitlement: number; ledgerEntry: number; idempotencyRecord: number };
}

export const DEFAULT_ASSUMPTIONS: Omit<CostAssumptions, 'memoryMb'> = {
  prices: US_EAST_1_LIST_PRICES,
  cacheHitRatio: 0.95,
  networkAllowanceMs: { premiumHit: 1, premiumMiss: 15, consume: 10 },
  itemKb: { user: 0.5, entitlement: 1, ledgerEntry: 0.5, idempotencyRecord: 0.5 },
};

/** Medians measured by the benches, in ms. */
export interface MeasuredDurations {
  premiumHitMs: number;
  premiumMissMs: number;
  consumeMs: number;
}

/** A consume design's write units per consume: measured by the consume bench, or modelled from the item sizes. */
export interface ConsumeWriteUnits {
  /** e.g. "mark on the entitlement row, 3 items". */
  design: string;
  /** The steady state (what the cost is computed from: a period's first consume is one of many). */
  steady: number;
  /** The first consume of a period: one more ledger entry (the reset). */
  firstOfPeriod: number;
  source: 'measured' | 'modelled';
}

export interface ConsumeCost {
  units: ConsumeWriteUnits;
  usage: OperationUsage;
  perMillion: CostPerMillion;
}

export interface CostModel {
  assumptions: CostAssumptions;
  measured: MeasuredDurations;
  premiumCheck: { usage: OperationUsage; hitBilledMs: number; missBilledMs: number; missReadUnits: number; perMillion: CostPerMillion };
  /** The store's design. */
  consume: ConsumeCost;
  /** Every design priced, the store's first: the comparison the bench measured. */
  consumeDesigns: ConsumeCost[];
}

/** The store's consume: Update of the entitlement row (its condition also refuses a row marked by account deletion), Put of the ledger entry, conditional Put of the idempotency record. */
export const STORE_CONSUME_DESIGN = 'mark on the entitlement row, 3 items';
/** Before: the same plus a ConditionCheck of the users row (`deletingAt`), 2 WRU more. */
export const USERS_ROW_CHECK_DESIGN = 'users-row check, 4 items';

/** Write units from the item sizes, when the bench did not measure them: 2 WRU per item per KB started, a ConditionCheck counted like a write. */
export function modelledConsumeUnits(itemKb: CostAssumptions['itemKb']): ConsumeWriteUnits[] {
  const store = [itemKb.entitlement, itemKb.ledgerEntry, itemKb.idempotencyRecord];
  const reset = transactionWriteUnits([itemKb.ledgerEntry]);
  return [
    { design: STORE_CONSUME_DESIGN, steady: transactionWriteUnits(store), firstOfPeriod: transactionWriteUnits(store) + reset, source: 'modelled' },
    { design: USERS_ROW_CHECK_DESIGN, steady: transactionWriteUnits([...store, itemKb.user]), firstOfPeriod: transactionWriteUnits([...store, itemKb.user]) + reset, source: 'modelled' },
  ];
}

/**
 * - Premium check, cache hit: one Redis GET, no DynamoDB request. Miss: three
 *   consistent GetItems: the address's ownership item, the profile it names
 *   and the entitlement row. Expected per check: (1 - hit ratio) x the miss's units;
 *   billed duration is the hit/miss mix of the two billed durations.
 * - Consume, steady state: one TransactWriteItems; its write units as the
 *   consume bench measured them for each design (`consumeUnits`, the
 *   store's first), else modelled from the item sizes (modelledConsumeUnits).
 * - ElastiCache is excluded: a fixed monthly cost (nodes), not per request.
 */
export function buildCostModel(measured: MeasuredDurations, assumptions: CostAssumptions, consumeUnits?: readonly ConsumeWriteUnits[]): CostModel {
  const { itemKb, networkAllowanceMs: allowance, cacheHitRatio: hit } = assumptions;
  const hitBilledMs = billedMs(measured.premiumHitMs, allowance.premiumHit);
  const missBilledMs = billedMs(measured.premiumMissMs, allowance.premiumMiss);
  // The ownership item (address + user id) is far under 4 KB: one unit, like the profile.
  const missReadUnits = readUnits(itemKb.user, true) + readUnits(itemKb.user, true) + readUnits(itemKb.entitlement, true);
  const premiumUsage: OperationUsage = {
    billedMs: hit * hitBilledMs + (1 - hit) * missBilledMs,
    memoryMb: assumptions.memoryMb.premiumCheck,
    readUnits: (1 - hit) * missReadUnits,
    writeUnits: 0,
  };
  const designs = (consumeUnits && consumeUnits.length > 0 ? consumeUnits : modelledConsumeUnits(itemKb)).map((units): ConsumeCost => {
    const usage: OperationUsage = {
      billedMs: billedMs(measured.consumeMs, allowance.consume),
      memoryMb: assumptions.memoryMb.consume,
      readUnits: 0,
      writeUnits: units.steady,
    };
    return { units, usage, perMillion: costPerMillion(usage, assumptions.prices) };
  });
  return {
    assumptions,
    measured,
    premiumCheck: { usage: premiumUsage, hitBilledMs, missBilledMs, missReadUnits, perMillion: costPerMillion(premiumUsage, assumptions.prices) },
    consume: designs[0]!,
    consumeDesigns: designs,
  };
}

const usd = (n: number) => `$${n.toFixed(n < 0.1 ? 4 : 2)}`;

/** The model as text: the two totals, their parts and every assumption. */
export function formatCostModel(model: CostModel): string {
  const { assumptions: a, measured: m } = model;
  const p = a.prices;
  const parts = (c: CostPerMillion) =>
    `Lambda compute ${usd(c.lambdaCompute)} + Lambda requests ${usd(c.lambdaRequests)} + API Gateway ${usd(c.apiGateway)} + DynamoDB reads ${usd(c.dynamoReads)} + writes ${usd(c.dynamoWrites)}`;
  const pc = model.premiumCheck;
  const co = model.consume;
  const designLine = (c: ConsumeCost, i: number) =>
    `  per 1M consumes${i === 0 ? ':      ' : ' (was):'} ${usd(c.perMillion.total)}  = ${parts(c.perMillion)}  [${c.units.design}: ${c.units.steady} WRU ${c.units.source}]`;
  return [
    'Cost model (USD, AWS list prices, us-east-1, on-demand; ElastiCache, NAT, logs, data transfer excluded):',
    `  per 1M premium checks: ${usd(pc.perMillion.total)}  = ${parts(pc.perMillion)}`,
    ...model.consumeDesigns.map(designLine),
    'Assumptions:',
    `  prices: Lambda arm64 $${p.lambdaGbSecond} per GB-s, $${(p.lambdaRequest * 1e6).toFixed(2)} per 1M requests; REST API $${(p.restApiRequest * 1e6).toFixed(2)} per 1M;` +
      ` DynamoDB on-demand $${(p.dynamoReadUnit * 1e6).toFixed(3)} per 1M RRU, $${(p.dynamoWriteUnit * 1e6).toFixed(3)} per 1M WRU`,
    `  memory: premium-check ${a.memoryMb.premiumCheck} MB, token-consume ${a.memoryMb.consume} MB (FUNCTIONS)`,
    `  premium check: cache hit ratio ${(a.cacheHitRatio * 100).toFixed(0)}%; hit ${m.premiumHitMs.toFixed(3)} ms measured + ${a.networkAllowanceMs.premiumHit} ms network allowance -> billed ${pc.hitBilledMs} ms;` +
      ` miss ${m.premiumMissMs.toFixed(3)} ms + ${a.networkAllowanceMs.premiumMiss} ms -> billed ${pc.missBilledMs} ms; a miss reads ${pc.missReadUnits} RRU` +
      ` (consistent GetItems of the ownership item 1, the profile 1 and the entitlement 1); expected ${pc.usage.readUnits.toFixed(3)} RRU per check`,
    `  consume: ${m.consumeMs.toFixed(3)} ms measured (median latency at concurrency 16 on DynamoDB Local) + ${a.networkAllowanceMs.consume} ms -> billed ${co.usage.billedMs} ms;` +
      ` 1 TransactWriteItems: Update entitlement row (its condition refuses a row marked by account deletion), Put ledger entry, conditional Put idempotency record;` +
      ` was: the same plus a ConditionCheck of the users row (counted as a write); write units per consume in the steady state (first of a period: ` +
      `${model.consumeDesigns.map((c) => `${c.units.firstOfPeriod}`).join(' / ')} WRU, one reset entry more), ${model.consumeDesigns[0]!.units.source === 'measured' ? 'measured by the consume bench (ConsumedCapacity)' : 'modelled: 2 WRU per item per KB'}`,
    `  item sizes (KB): user ${a.itemKb.user}, entitlement ${a.itemKb.entitlement}, ledger entry ${a.itemKb.ledgerEntry}, idempotency record ${a.itemKb.idempotencyRecord}`,
    '  ElastiCache: excluded (a fixed monthly cost for the nodes, independent of request volume)',
  ].join('\n');
}
