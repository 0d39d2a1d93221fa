import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { SQSEvent } from 'aws-lambda';
import { freePort } from '../../infra/local/processes';
import { startLocalQueue, type LocalQueue } from '../../infra/local/queue';

describe('local deletion queue (SQS stand-in + event source)', () => {
  let queue: LocalQueue | undefined;
  let client: SQSClient | undefined;
  afterEach(async () => {
    client?.destroy();
    await queue?.stop();
    queue = undefined;
  });

  async function start(deliver: (event: SQSEvent) => Promise<unknown>) {
    queue = await startLocalQueue({ name: 'q', port: await freePort(), visibilityTimeoutMs: 20, maxReceiveCount: 3, deliver: deliver as never });
    client = new SQSClient({ region: 'us-east-1', endpoint: queue.endpoint, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
    return queue;
  }

  it('takes SendMessage from the real SDK (MD5 checked by it) and delivers an SQS event', async () => {
    const events: SQSEvent[] = [];
    const q = await start(async (event) => void events.push(event));
    const sent = await client!.send(new SendMessageCommand({ QueueUrl: q.url, MessageBody: '{"kind":"continue-deletion","userId":"u1"}' }));
    await q.drained(5000);
    expect(events).toHaveLength(1);
    expect(events[0]!.Records[0]).toMatchObject({ messageId: sent.MessageId, body: '{"kind":"continue-deletion","userId":"u1"}', eventSource: 'aws:sqs', attributes: { ApproximateReceiveCount: '1' } });
  });

  it('retries a failed or reported record after the visibility timeout, then dead-letters it', async () => {
    let calls = 0;
    const q = await start(async (event) => {
      if (event.Records[0]!.body === 'always fails') return { batchItemFailures: [{ itemIdentifier: event.Records[0]!.messageId }] };
      calls += 1;
      if (calls === 1) throw new Error('worker crashed');
      if (calls === 2) return { batchItemFailures: [{ itemIdentifier: event.Records[0]!.messageId }] };
      return { batchItemFailures: [] };
    });
    await client!.send(new SendMessageCommand({ QueueUrl: q.url, MessageBody: 'retry me' }));
    await q.drained(5000);
    expect(calls).toBe(3);
    expect(q.deadLetters).toEqual([]);

    await client!.send(new SendMessageCommand({ QueueUrl: q.url, MessageBody: 'always fails' }));
    const stderr = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
    await q.drained(5000);
    stderr.mockRestore();
    expect(q.deadLetters).toEqual([expect.objectContaining({ body: 'always fails', receiveCount: 3, lastError: 'reported in batchItemFailures' })]);
  });

  it('refuses another queue URL like SQS does', async () => {
    await start(async () => undefined);
    await expect(client!.send(new SendMessageCommand({ QueueUrl: `${queue!.endpoint}/000000000000/other`, MessageBody: 'x' }))).rejects.toMatchObject({ name: 'QueueDoesNotExist' });
  });
});
