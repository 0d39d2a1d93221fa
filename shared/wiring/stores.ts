import { DynamoDeletionJobs, DynamoProfileSweep, DynamoUserDataPurger } from '../adapters/dynamodb/account-deletion';
import { DynamoApiKeyStore, DynamoUsageStore } from '../adapters/dynamodb/api-key-store';
import { DynamoEntitlementStore } from '../adapters/dynamodb/entitlements-store';
import { DynamoProcessedEvents } from '../adapters/dynamodb/processed-events';
import { DynamoUserStore } from '../adapters/dynamodb/users-store';
import { aws, tables } from './aws';
import { perProcess } from './process';

/** The DynamoDB stores of profiles, entitlement rows, processed Stripe events and the deletion saga. */
export const stores = perProcess(() => {
  const doc = aws().dynamo.doc;
  const t = tables();
  return {
    users: new DynamoUserStore(doc, t.TABLE_USERS, t.TABLE_EMAIL_OWNERS),
    entitlements: new DynamoEntitlementStore(doc, { entitlements: t.TABLE_ENTITLEMENTS, users: t.TABLE_USERS }),
    processedEvents: new DynamoProcessedEvents(doc, t.TABLE_IDEMPOTENCY),
    deletionJobs: new DynamoDeletionJobs(doc, t.TABLE_IDEMPOTENCY),
    purger: new DynamoUserDataPurger(doc, { ledger: t.TABLE_LEDGER, apiKeys: t.TABLE_API_KEYS }),
    profiles: new DynamoProfileSweep(doc, t.TABLE_USERS),
  };
});

/** End-user API keys and the per-period usage counters (API calls, credential grants). */
export const apiKeyStores = perProcess(() => {
  const doc = aws().dynamo.doc;
  const t = tables();
  return {
    keys: new DynamoApiKeyStore(doc, { apiKeys: t.TABLE_API_KEYS, users: t.TABLE_USERS }),
    usage: new DynamoUsageStore(doc, { ledger: t.TABLE_LEDGER, users: t.TABLE_USERS }),
  };
});
