import { DynamoEntitlementStore } from '../adapters/dynamodb/entitlements-store';
import { DynamoKofiSupporters } from '../adapters/dynamodb/kofi-supporters';
import { DynamoProcessedEvents } from '../adapters/dynamodb/processed-events';
import { DynamoUserStore } from '../adapters/dynamodb/users-store';
import { aws, tables } from './aws';
import { perProcess } from './process';

/** The DynamoDB stores of profiles, entitlement rows, processed Stripe events and Ko-fi supporters by email. */
export const stores = perProcess(() => {
  const doc = aws().dynamo.doc;
  const t = tables();
  return {
    users: new DynamoUserStore(doc, t.TABLE_USERS, t.TABLE_EMAIL_OWNERS),
    entitlements: new DynamoEntitlementStore(doc, { entitlements: t.TABLE_ENTITLEMENTS, users: t.TABLE_USERS }),
    processedEvents: new DynamoProcessedEvents(doc, t.TABLE_IDEMPOTENCY),
    kofi: new DynamoKofiSupporters(doc, t.TABLE_KOFI),
  };
});
