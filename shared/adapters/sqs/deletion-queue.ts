import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { DeletionQueue, DeletionWork } from '../../ports/account-deletion';

/** The deletion worker's queue: one JSON message per unit of work. */
export class SqsDeletionQueue implements DeletionQueue {
  constructor(
    private readonly client: SQSClient,
    private readonly queueUrl: string,
  ) {}

  async send(work: DeletionWork, delaySeconds = 0): Promise<void> {
    await this.client.send(
      new SendMessageCommand({ QueueUrl: this.queueUrl, MessageBody: JSON.stringify(work), DelaySeconds: Math.min(900, Math.max(0, Math.ceil(delaySeconds))) }),
    );
  }
}
