import { DescribeTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  DescribeStreamCommand,
  DynamoDBStreamsClient,
  GetRecordsCommand,
  GetShardIteratorCommand,
  type _Record as StreamRecord,
} from '@aws-sdk/client-dynamodb-streams';
import type { DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { LOCAL_AWS } from './dynamodb';

/**
 * The local stand-in for Lambda's DynamoDB Streams event source: polls
 * DynamoDB Local's stream of a table (DescribeStream, GetShardIterator,
 * GetRecords) and hands each batch to the consumer as a DynamoDBStreamEvent,
 * in order. Like Lambda: a batch whose handler throws, or reports a record in
 * `batchItemFailures`, is retried from that record, up to `maxAttempts`
 * times; then the batch is logged and skipped (on AWS its description goes
 * to the dead-letter queue).
 */
export interface TableStreamOptions {
  dynamo: DynamoDBClient;
  endpoint: string;
  tableName: string;
  /** The consumer, bound late: handlers load after the stack's environment is known. */
  deliver: (event: DynamoDBStreamEvent) => Promise<DynamoDBBatchResponse | void>;
  pollIntervalMs?: number;
  maxAttempts?: number;
}

export interface TableStreamPoller {
  stop(): Promise<void>;
}

/** The SDK's record -> the shape Lambda delivers (creation time in epoch seconds, as a number). */
function lambdaRecord(record: StreamRecord, streamArn: string): DynamoDBRecord {
  const { ApproximateCreationDateTime, ...stream } = record.dynamodb ?? {};
  return {
    eventID: record.eventID,
    eventName: record.eventName,
    eventVersion: record.eventVersion ?? '1.1',
    eventSource: 'aws:dynamodb',
    awsRegion: LOCAL_AWS.region,
    eventSourceARN: streamArn,
    dynamodb: {
      ...(stream as DynamoDBRecord['dynamodb']),
      ...(ApproximateCreationDateTime ? { ApproximateCreationDateTime: Math.floor(ApproximateCreationDateTime.getTime() / 1000) } : {}),
    },
  };
}

export async function startTableStream(options: TableStreamOptions): Promise<TableStreamPoller> {
  const pollIntervalMs = options.pollIntervalMs ?? 200;
  const maxAttempts = options.maxAttempts ?? 5;
  const streams = new DynamoDBStreamsClient({
    endpoint: options.endpoint,
    region: LOCAL_AWS.region,
    credentials: { accessKeyId: LOCAL_AWS.accessKeyId, secretAccessKey: LOCAL_AWS.secretAccessKey },
  });
  const table = await options.dynamo.send(new DescribeTableCommand({ TableName: options.tableName }));
  const streamArn = table.Table?.LatestStreamArn;
  if (!streamArn) throw new Error(`${options.tableName} has no stream (declare it in shared/adapters/dynamodb/tables.ts)`);

  /** Shard id -> its next iterator; a finished (closed and read) shard is kept with null. */
  const iterators = new Map<string, string | null>();
  /** Shard id -> the last sequence number delivered, to resume after a refused iterator. */
  const delivered = new Map<string, string>();

  const iteratorOf = async (shardId: string) => {
    const after = delivered.get(shardId);
    const out = await streams.send(
      new GetShardIteratorCommand({
        StreamArn: streamArn,
        ShardId: shardId,
        ...(after ? { ShardIteratorType: 'AFTER_SEQUENCE_NUMBER', SequenceNumber: after } : { ShardIteratorType: 'TRIM_HORIZON' }),
      }),
    );
    return out.ShardIterator ?? null;
  };
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;

  const discoverShards = async () => {
    const description = await streams.send(new DescribeStreamCommand({ StreamArn: streamArn }));
    for (const shard of description.StreamDescription?.Shards ?? []) {
      if (!shard.ShardId || iterators.has(shard.ShardId)) continue;
      // A child shard is read once its parent is done, so a user's writes stay in order.
      const parent = shard.ParentShardId;
      if (parent && iterators.has(parent) && iterators.get(parent) !== null) continue;
      iterators.set(shard.ShardId, await iteratorOf(shard.ShardId));
    }
  };

  const deliverBatch = async (records: DynamoDBRecord[]) => {
    let pending = records;
    for (let attempt = 1; pending.length > 0; attempt += 1) {
      let failedAt: string | undefined;
      try {
        const result = await options.deliver({ Records: pending });
        failedAt = result?.batchItemFailures?.[0]?.itemIdentifier;
      } catch (err) {
        failedAt = pending[0]?.dynamodb?.SequenceNumber;
        process.stderr.write(`[stream ${options.tableName}] handler failed: ${(err as Error).message}\n`);
      }
      if (failedAt === undefined) return;
      const index = pending.findIndex((r) => r.dynamodb?.SequenceNumber === failedAt);
      pending = index < 0 ? pending : pending.slice(index);
      if (attempt >= maxAttempts) {
        process.stderr.write(`[stream ${options.tableName}] gave up on ${pending.length} record(s) from ${failedAt} after ${attempt} attempts\n`);
        return;
      }
      await new Promise((r) => setTimeout(r, 100 * 2 ** attempt));
    }
  };

  const poll = async () => {
    await discoverShards();
    for (const [shardId, iterator] of iterators) {
      if (iterator === null) continue;
      let out;
      try {
        out = await streams.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 100 }));
      } catch (err) {
        // DynamoDB Local refuses a TRIM_HORIZON iterator taken while the shard was empty
        // (TrimmedDataAccessException), and iterators expire: take a fresh one next time.
        if (['TrimmedDataAccessException', 'ExpiredIteratorException'].includes((err as Error).name)) {
          iterators.set(shardId, await iteratorOf(shardId));
          continue;
        }
        throw err;
      }
      const records = (out.Records ?? []).map((r) => lambdaRecord(r, streamArn));
      if (records.length > 0) {
        await deliverBatch(records);
        const last = records.at(-1)?.dynamodb?.SequenceNumber;
        if (last) delivered.set(shardId, last);
      }
      iterators.set(shardId, out.NextShardIterator ?? null);
    }
  };

  const loop = () => {
    if (stopped) return;
    poll()
      .catch((err: Error) => process.stderr.write(`[stream ${options.tableName}] poll failed: ${err.message}\n`))
      .finally(() => {
        if (!stopped) timer = setTimeout(loop, pollIntervalMs);
      });
  };
  loop();

  return {
    stop: async () => {
      stopped = true;
      if (timer) clearTimeout(timer);
      streams.destroy();
    },
  };
}
