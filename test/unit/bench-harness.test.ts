import { DynamoDBClient, PutItemCommand, TransactWriteItemsCommand } from '@aws-sdk/client-dynamodb';
import { blockRatios, countCapacity, quantile, ratioVerdict, summariseRatios } from '../../bench/harness';

describe('bench harness: paired ratios and their spread', () => {
  it('summarises pair ratios as their median and interquartile range', () => {
    const summary = summariseRatios([1.4, 0.9, 1.0, 1.1, 1.2, 1.3, 0.8, 1.05]);
    expect(summary).toEqual({ median: quantile([1.4, 0.9, 1.0, 1.1, 1.2, 1.3, 0.8, 1.05], 0.5), low: 0.9, high: 1.2, pairs: 8 });
    expect(summary.median).toBe(1.05);
  });

  it('refuses to summarise no pairs rather than printing NaN as a verdict', () => {
    expect(() => summariseRatios([])).toThrow(/no pair ratios/);
  });

  it('pairs interleaved series block by block, so a slow spell lands on both sides of a pair', () => {
    // Sample i of each series was taken side by side; the machine is twice as slow in the second half.
    const a = [...Array(10).fill(3), ...Array(10).fill(6)];
    const b = [...Array(10).fill(2), ...Array(10).fill(4)];
    expect(blockRatios(a, b, 4)).toEqual([1.5, 1.5, 1.5, 1.5]);
  });

  it('keeps every sample when the series do not divide into equal blocks', () => {
    const ratios = blockRatios([1, 1, 1, 1, 1, 9, 9], [1, 1, 1, 1, 1, 1, 1], 3);
    expect(ratios).toHaveLength(3);
    expect(ratios[2]).toBe(9);
  });

  it('passes on the median and warns when the goal lies inside the spread', () => {
    const clear = ratioVerdict({ median: 1.1, low: 1.0, high: 1.2, pairs: 40 }, { atMost: 1.3 });
    expect(clear).toMatchObject({ ratio: 1.1, pass: true, goal: 'p50 ratio <= 1.3', spread: { low: 1.0, high: 1.2, pairs: 40 } });
    expect(clear.warning).toBeUndefined();

    const straddling = ratioVerdict({ median: 1.25, low: 1.1, high: 1.4, pairs: 40 }, { atMost: 1.3 });
    expect(straddling.pass).toBe(true);
    expect(straddling.warning).toMatch(/inside the pair ratios' spread 1\.10-1\.40 over 40 pairs/);

    const missed = ratioVerdict({ median: 0.7, low: 0.6, high: 0.8, pairs: 40 }, { atLeast: 0.85 });
    expect(missed).toMatchObject({ pass: false, goal: 'p50 ratio >= 0.85' });
    expect(missed.warning).toBeUndefined();
  });
});

describe('bench harness: consumed capacity', () => {
  /** A client whose every request is answered with `output` without leaving the process. */
  function answering(output: Record<string, unknown>) {
    const client = new DynamoDBClient({ region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'y' } });
    const asked: unknown[] = [];
    client.middlewareStack.add(
      () => async (args) => {
        asked.push((args.input as { ReturnConsumedCapacity?: string }).ReturnConsumedCapacity);
        return { output: { $metadata: {}, ...output }, response: {} };
      },
      { step: 'finalizeRequest', name: 'answer' },
    );
    return { client, asked };
  }
  const put = (table: string) => ({ Put: { TableName: table, Item: { id: { S: 'a' } } } });

  it('asks for the consumed capacity and sums it, writes apart from reads', async () => {
    const { client, asked } = answering({ ConsumedCapacity: { TableName: 't', CapacityUnits: 2 } });
    const counter = countCapacity(client);
    await client.send(new PutItemCommand({ TableName: 't', Item: { id: { S: 'a' } } }));
    expect(asked).toEqual(['TOTAL']);
    expect(counter).toEqual({ writeUnits: 2, readUnits: 0 });
  });

  it("counts 2 per item when DynamoDB Local reports 2 for several items of one table, and refuses a report it cannot split", async () => {
    const ok = answering({ ConsumedCapacity: [{ TableName: 'rows', CapacityUnits: 2 }, { TableName: 'ledger', CapacityUnits: 2 }] });
    const counter = countCapacity(ok.client);
    await ok.client.send(new TransactWriteItemsCommand({ TransactItems: [put('rows'), put('ledger'), put('ledger')] }));
    expect(counter.writeUnits).toBe(6);

    const big = answering({ ConsumedCapacity: [{ TableName: 'ledger', CapacityUnits: 6 }] });
    countCapacity(big.client);
    await expect(big.client.send(new TransactWriteItemsCommand({ TransactItems: [put('ledger'), put('ledger')] }))).rejects.toThrow(/cannot be split per item/);
  });
});
