import type { EntitlementChanged } from '../domain/entitlement-events';

/**
 * Where entitlement.changed goes (an EventBridge bus). A call that fails as a
 * whole throws a port error (DependencyUnavailable); events the bus refused
 * one by one come back by id, so the caller retries exactly those.
 */
export interface EntitlementEventPublisher {
  publish(events: readonly EntitlementChanged[]): Promise<{ failedIds: string[] }>;
}
