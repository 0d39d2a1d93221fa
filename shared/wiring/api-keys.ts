import { DynamoApiKeyStore, DynamoUsageStore } from '../adapters/dynamodb/api-key-store';
import { aws, tables } from './aws';
import { perProcess } from './process';

/** End-user API keys and the per-period usage counters (API calls, credential grants). */
export const apiKeyStores = perProcess(() => {
  const doc = aws().dynamo.doc;
  const t = tables();
  return {
    keys: new DynamoApiKeyStore(doc, { apiKeys: t.TABLE_API_KEYS, users: t.TABLE_USERS }),
    usage: new DynamoUsageStore(doc, { ledger: t.TABLE_LEDGER, users: t.TABLE_USERS }),
  };
});
