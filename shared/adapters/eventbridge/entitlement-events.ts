import { PutEventsCommand, type EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { ENTITLEMENT_CHANGED, EVENT_SOURCE, type EntitlementChanged } from '../../domain/entitlement-events';
import type { EntitlementEventPublisher } from '../../ports/entitlement-events';

/** PutEvents takes at most 10 entries per call. */
const MAX_ENTRIES = 10;

/** entitlement.changed on an EventBridge bus: source `entitlements`, the detail as validated by the zod schema. */
export class EventBridgeEntitlementEvents implements EntitlementEventPublisher {
  constructor(
    private readonly client: EventBridgeClient,
    private readonly busName: string,
  ) {}

  async publish(events: readonly EntitlementChanged[]): Promise<{ failedIds: string[] }> {
    const failedIds: string[] = [];
    for (let i = 0; i < events.length; i += MAX_ENTRIES) {
      const batch = events.slice(i, i + MAX_ENTRIES);
      const out = await this.client.send(
        new PutEventsCommand({
          Entries: batch.map((event) => ({
            EventBusName: this.busName,
            Source: EVENT_SOURCE,
            DetailType: ENTITLEMENT_CHANGED,
            Detail: JSON.stringify(event),
            Time: new Date(event.occurredAt),
          })),
        }),
      );
      // Entries answer in request order; an entry with an ErrorCode was not put.
      (out.Entries ?? []).forEach((entry, index) => {
        const event = batch[index];
        if (entry.ErrorCode && event) failedIds.push(event.id);
      });
    }
    return { failedIds };
  }
}
