import { createHash, randomUUID } from 'node:crypto';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { close, createLocalServer, listen, readBody } from './http';

/**
 * The local stand-in for an SQS queue and its Lambda event source mapping.
 * It speaks the part of the SQS JSON protocol the SDK's SendMessage uses (so
 * the functions' SqsDeletionQueue runs unchanged, pointed here by
 * SQS_ENDPOINT), and delivers each message, after its delay, to the consumer
 * the way Lambda's SQS poller does: an SQSEvent of one record, retried after
 * the visibility timeout when the invocation throws or reports the record in
 * `batchItemFailures`, and moved to the dead-letter list after
 * `maxReceiveCount` receives (the DLQ's redrive policy on AWS).
 */
export interface LocalQueueOptions {
  name: string;
  port: number;
  /** The consumer (e.g. the deletion worker's handler). Bound late: handlers load after the queue's URL is known. */
  deliver: (event: SQSEvent) => Promise<SQSBatchResponse | void>;
  visibilityTimeoutMs?: number;
  maxReceiveCount?: number;
}

export interface LocalQueueMessage {
  messageId: string;
  body: string;
  sentAt: number;
  receiveCount: number;
  lastError?: string;
}

export interface LocalQueue {
  url: string;
  endpoint: string;
  deadLetters: LocalQueueMessage[];
  /** Messages sent and not yet consumed or dead-lettered. */
  pending(): number;
  /** Resolves once nothing is pending (or rejects after `timeoutMs`). */
  drained(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

const ACCOUNT = '000000000000';

function reply(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/x-amz-json-1.0', 'Content-Length': Buffer.byteLength(text), 'x-amzn-RequestId': randomUUID() });
  res.end(text);
}

/** SQS's own request limit: a 256 KiB message plus its attributes stays well below it. */
const MAX_REQUEST_BYTES = 1024 * 1024;

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const body = await readBody(req, MAX_REQUEST_BYTES);
  if (body === undefined) throw new Error(`request body over ${MAX_REQUEST_BYTES} bytes`);
  return JSON.parse(body.toString('utf8') || '{}') as Record<string, unknown>;
}

export async function startLocalQueue(options: LocalQueueOptions): Promise<LocalQueue> {
  const visibilityTimeoutMs = options.visibilityTimeoutMs ?? 1000;
  const maxReceiveCount = options.maxReceiveCount ?? 5;
  const endpoint = `http://127.0.0.1:${options.port}`;
  const url = `${endpoint}/${ACCOUNT}/${options.name}`;
  const arn = `arn:aws:sqs:us-east-1:${ACCOUNT}:${options.name}`;
  const inFlight = new Map<string, LocalQueueMessage>();
  const timers = new Set<NodeJS.Timeout>();
  const deadLetters: LocalQueueMessage[] = [];
  let stopped = false;
  let waiters: Array<() => void> = [];

  const settle = (messageId: string) => {
    inFlight.delete(messageId);
    if (inFlight.size === 0) {
      for (const wake of waiters) wake();
      waiters = [];
    }
  };
  const later = (ms: number, run: () => void) => {
    const timer = setTimeout(() => {
      timers.delete(timer);
      if (!stopped) run();
    }, ms);
    timers.add(timer);
  };

  const receive = async (message: LocalQueueMessage): Promise<void> => {
    message.receiveCount += 1;
    const event: SQSEvent = {
      Records: [
        {
          messageId: message.messageId,
          receiptHandle: `${message.messageId}#${message.receiveCount}`,
          body: message.body,
          attributes: {
            ApproximateReceiveCount: String(message.receiveCount),
            SentTimestamp: String(message.sentAt),
            SenderId: ACCOUNT,
            ApproximateFirstReceiveTimestamp: String(Date.now()),
          },
          messageAttributes: {},
          md5OfBody: createHash('md5').update(message.body).digest('hex'),
          eventSource: 'aws:sqs',
          eventSourceARN: arn,
          awsRegion: 'us-east-1',
        },
      ],
    };
    let failed: string | undefined;
    try {
      const result = await options.deliver(event);
      if (result?.batchItemFailures?.some((f) => f.itemIdentifier === message.messageId)) failed = 'reported in batchItemFailures';
    } catch (err) {
      failed = (err as Error).message;
    }
    if (failed === undefined) return settle(message.messageId);
    message.lastError = failed;
    if (message.receiveCount >= maxReceiveCount) {
      deadLetters.push(message);
      process.stderr.write(`[queue ${options.name}] message ${message.messageId} moved to the dead-letter list after ${message.receiveCount} receives: ${failed}\n`);
      return settle(message.messageId);
    }
    later(visibilityTimeoutMs, () => void receive(message));
  };

  const server: Server = createLocalServer((req, res) => {
    void (async () => {
      const target = String(req.headers['x-amz-target'] ?? '');
      try {
        const input = await readJson(req);
        if (target !== 'AmazonSQS.SendMessage') {
          reply(res, 400, { __type: 'com.amazonaws.sqs#UnsupportedOperation', message: `${target || 'this operation'} is not supported by the local queue` });
          return;
        }
        if (input.QueueUrl !== url) {
          reply(res, 400, { __type: 'com.amazonaws.sqs#QueueDoesNotExist', message: 'The specified queue does not exist.' });
          return;
        }
        const body = typeof input.MessageBody === 'string' ? input.MessageBody : '';
        const delaySeconds = Number(input.DelaySeconds ?? 0);
        if (body.length === 0 || !Number.isInteger(delaySeconds) || delaySeconds < 0 || delaySeconds > 900) {
          reply(res, 400, { __type: 'com.amazonaws.sqs#InvalidParameterValue', message: 'MessageBody must be non-empty and DelaySeconds 0..900' });
          return;
        }
        const message: LocalQueueMessage = { messageId: randomUUID(), body, sentAt: Date.now(), receiveCount: 0 };
        inFlight.set(message.messageId, message);
        later(delaySeconds * 1000, () => void receive(message));
        reply(res, 200, { MessageId: message.messageId, MD5OfMessageBody: createHash('md5').update(body).digest('hex') });
      } catch (err) {
        reply(res, 500, { __type: 'com.amazonaws.sqs#InternalError', message: (err as Error).message });
      }
    })();
  });
  await listen(server, options.port);

  return {
    url,
    endpoint,
    deadLetters,
    pending: () => inFlight.size,
    drained: (timeoutMs = 30_000) =>
      inFlight.size === 0
        ? Promise.resolve()
        : new Promise<void>((resolve, reject) => {
            const timer = setTimeout(() => reject(new Error(`queue ${options.name} still has ${inFlight.size} message(s) after ${timeoutMs} ms`)), timeoutMs);
            waiters.push(() => {
              clearTimeout(timer);
              resolve();
            });
          }),
    stop: async () => {
      stopped = true;
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      await close(server);
    },
  };
}
