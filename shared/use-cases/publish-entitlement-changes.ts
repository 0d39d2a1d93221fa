import type { AccessDecider } from '../domain/access';
import { entitlementChangeOf, type EntitlementChanged, type RowChange } from '../domain/entitlement-events';
import type { EntitlementEventPublisher } from '../ports/entitlement-events';
import { logger } from '../observability/logger';
import { countMetric } from '../observability/metrics';

export interface PublishChangesDeps {
  publisher: EntitlementEventPublisher;
  decide: AccessDecider;
}

/**
 * Publishes entitlement.changed for a batch of entitlement-row changes (the
 * table's stream, in order per user).
 *
 * Primary course:
 * 1. Derive each change's event from its old and new image with the one access decision.
 * 2. Drop the changes that changed nothing a consumer cares about (consumes, identical re-syncs).
 * 3. Put the rest on the bus, in stream order.
 * 4. Return the first change whose event was not put: the stream retries from
 *    there (events after it go again too: consumers deduplicate on `id`).
 */
export async function publishEntitlementChanges(deps: PublishChangesDeps, changes: readonly RowChange[]): Promise<{ published: number; firstFailedId?: string }> {
  const events: EntitlementChanged[] = [];
  for (const change of changes) {
    const event = entitlementChangeOf(change, deps.decide);
    if (event) events.push(event);
  }
  if (events.length === 0) return { published: 0 };
  let failed: Set<string>;
  try {
    failed = new Set((await deps.publisher.publish(events)).failedIds);
  } catch (err) {
    countMetric('EntitlementEventsFailed', events.length);
    throw err;
  }
  const firstFailed = events.find((event) => failed.has(event.id));
  const published = firstFailed ? events.indexOf(firstFailed) : events.length;
  countMetric('EntitlementEventsPublished', published);
  if (firstFailed) {
    countMetric('EntitlementEventsFailed', events.length - published);
    logger.error('entitlement.changed: the bus refused events; the stream retries from the first', { id: firstFailed.id, userId: firstFailed.userId, refused: failed.size });
    return { published, firstFailedId: firstFailed.id };
  }
  for (const event of events) logger.info('entitlement.changed published', { id: event.id, userId: event.userId, changed: event.changed, cause: event.cause.kind });
  return { published };
}
