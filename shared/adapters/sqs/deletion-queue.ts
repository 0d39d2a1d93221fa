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

/**
 * A message is our own work item, or the EventBridge event of a Cognito
 * `DeleteUser` call seen by CloudTrail (its access token is hidden in the
 * event, so it names no user we can trust): that one runs the identity sweep.
 */
export function parseDeletionWork(body: string): DeletionWork | undefined {
  const message = JSON.parse(body) as Record<string, unknown>;
  if (message.kind === 'continue-deletion' && typeof message.userId === 'string') {
    return { kind: 'continue-deletion', userId: message.userId, ...(message.source === 'sweep' ? { source: 'sweep' as const } : {}) };
  }
  if (message.kind === 'reconcile-identities') return { kind: 'reconcile-identities', ...(typeof message.cursor === 'string' ? { cursor: message.cursor } : {}) };
  if (message.source === 'aws.cognito-idp' && message['detail-type'] === 'AWS API Call via CloudTrail') return { kind: 'reconcile-identities' };
  return undefined;
}
