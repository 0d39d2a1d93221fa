import {
  billedMs,
  buildCostModel,
  costPerMillion,
  DEFAULT_ASSUMPTIONS,
  formatCostModel,
  readUnits,
  STORE_CONSUME_DESIGN,
  transactionWriteUnits,
  USERS_ROW_CHECK_DESIGN,
  US_EAST_1_LIST_PRICES,
} from '../../bench/cost-model';

const assumptions = { ...DEFAULT_ASSUMPTIONS, memoryMb: { premiumCheck: 256, consume: 256 } };

describe('cost model', () => {
  it('bills Lambda duration in whole milliseconds, at least one', () => {
    expect(billedMs(0.066, 1)).toBe(2);
    expect(billedMs(0, 0)).toBe(1);
    expect(billedMs(2.3, 15)).toBe(18);
  });

  it('counts DynamoDB request units by item size and consistency', () => {
    expect(readUnits(1, true)).toBe(1);
    expect(readUnits(0.5, false)).toBe(0.5);
    expect(readUnits(5, true)).toBe(2);
    // 2 WRU per item per KB in a transaction.
    expect(transactionWriteUnits([1, 0.5, 0.5, 0.5])).toBe(8);
    expect(transactionWriteUnits([1.2])).toBe(4);
  });

  it('prices one million operations from list prices', () => {
    const c = costPerMillion({ billedMs: 1000, memoryMb: 1024, readUnits: 1, writeUnits: 1 });
    expect(c.lambdaCompute).toBeCloseTo(13.3334, 4);
    expect(c.lambdaRequests).toBeCloseTo(0.2, 10);
    expect(c.apiGateway).toBeCloseTo(3.5, 10);
    expect(c.dynamoReads).toBeCloseTo(0.125, 10);
    expect(c.dynamoWrites).toBeCloseTo(0.625, 10);
    expect(c.total).toBeCloseTo(13.3334 + 0.2 + 3.5 + 0.125 + 0.625, 4);
    expect(US_EAST_1_LIST_PRICES.lambdaGbSecond).toBe(0.0000133334);
  });

  it('mixes cache hits and misses for the premium check and counts the consume transaction', () => {
    const model = buildCostModel({ premiumHitMs: 0.07, premiumMissMs: 2.3, consumeMs: 20 }, assumptions);
    // hit: 0.07 + 1 -> 2 ms; miss: 2.3 + 15 -> 18 ms; 95% hits.
    expect(model.premiumCheck.hitBilledMs).toBe(2);
    expect(model.premiumCheck.missBilledMs).toBe(18);
    expect(model.premiumCheck.usage.billedMs).toBeCloseTo(0.95 * 2 + 0.05 * 18, 10);
    // a miss: consistent GetItems of the ownership item, the profile and the entitlement, 1 RRU each.
    expect(model.premiumCheck.missReadUnits).toBe(3);
    expect(model.premiumCheck.usage.readUnits).toBeCloseTo(0.15, 10);
    expect(model.premiumCheck.perMillion.dynamoWrites).toBe(0);
    expect(model.consume.usage.billedMs).toBe(30);
    // Without measured units: modelled from the item sizes, the store's 3 items (6 WRU) beside the earlier 4 (8 WRU).
    expect(model.consumeDesigns.map((c) => [c.units.design, c.units.steady, c.units.firstOfPeriod, c.units.source])).toEqual([
      [STORE_CONSUME_DESIGN, 6, 8, 'modelled'],
      [USERS_ROW_CHECK_DESIGN, 8, 10, 'modelled'],
    ]);
    expect(model.consume).toBe(model.consumeDesigns[0]);
    expect(model.consume.perMillion.dynamoWrites).toBeCloseTo(3.75, 10);
    expect(model.consumeDesigns[1]!.perMillion.dynamoWrites).toBeCloseTo(5, 10);
    // API Gateway dominates both.
    expect(model.premiumCheck.perMillion.total).toBeGreaterThan(3.7);
    expect(model.premiumCheck.perMillion.total).toBeLessThan(3.8);
  });

  it('prices each consume design from the write units the bench measured', () => {
    const measured = [
      { design: STORE_CONSUME_DESIGN, steady: 6, firstOfPeriod: 8, source: 'measured' as const },
      { design: USERS_ROW_CHECK_DESIGN, steady: 8, firstOfPeriod: 10, source: 'measured' as const },
    ];
    const model = buildCostModel({ premiumHitMs: 0.07, premiumMissMs: 2.3, consumeMs: 20 }, assumptions, measured);
    expect(model.consume.units).toEqual(measured[0]);
    expect(model.consume.usage.writeUnits).toBe(6);
    // 1.25 dollars per million consumes less: 2 WRU at $0.625 per million.
    expect(model.consumeDesigns[1]!.perMillion.total - model.consume.perMillion.total).toBeCloseTo(1.25, 10);
    const text = formatCostModel(model);
    expect(text).toContain(`[${STORE_CONSUME_DESIGN}: 6 WRU measured]`);
    expect(text).toContain(`[${USERS_ROW_CHECK_DESIGN}: 8 WRU measured]`);
    expect(text).toContain('measured by the consume bench');
  });

  it('a perfect cache removes DynamoDB from the premium check', () => {
    const model = buildCostModel({ premiumHitMs: 0.07, premiumMissMs: 2.3, consumeMs: 20 }, { ...assumptions, cacheHitRatio: 1 });
    expect(model.premiumCheck.perMillion.dynamoReads).toBe(0);
  });

  it('prints the totals and every assumption', () => {
    const text = formatCostModel(buildCostModel({ premiumHitMs: 0.07, premiumMissMs: 2.3, consumeMs: 20 }, assumptions));
    for (const expected of ['per 1M premium checks', 'per 1M consumes', 'cache hit ratio 95%', '$0.0000133334 per GB-s', '$3.50 per 1M', '$0.125 per 1M RRU', '$0.625 per 1M WRU', 'ElastiCache: excluded', 'network allowance', '256 MB']) {
      expect(text).toContain(expected);
    }
  });
});
