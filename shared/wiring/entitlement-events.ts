import { eventsSection, loadConfig } from '../config';
import { createEventBridgeClient } from '../adapters/eventbridge/client';
import { EventBridgeEntitlementEvents } from '../adapters/eventbridge/entitlement-events';
import { awsConfig } from './aws-config';
import { perProcess } from './process';

/** The publisher of entitlement.changed: one EventBridge client per process, on the bus the stack names. */
export const entitlementEvents = perProcess(() => {
  const config = loadConfig({ events: eventsSection }).events;
  return new EventBridgeEntitlementEvents(createEventBridgeClient(awsConfig(), config.EVENTBRIDGE_ENDPOINT), config.EVENT_BUS_NAME);
});
