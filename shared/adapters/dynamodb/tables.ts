/**
 * The one place the DynamoDB tables are defined. The CDK stack and the local
 * stack both create tables from these definitions, and the adapters read the
 * physical names from the environment variable named here.
 */
export type AttributeType = 'S' | 'N';

export interface KeyDefinition {
  name: string;
  type: AttributeType;
}

export interface IndexDefinition {
  indexName: string;
  partitionKey: KeyDefinition;
  sortKey?: KeyDefinition;
}

export interface TableDefinition {
  /** Logical id, used for CDK construct ids and local table names. */
  id: TableId;
  /** Environment variable that carries the physical table name. */
  envVar: `TABLE_${string}`;
  partitionKey: KeyDefinition;
  sortKey?: KeyDefinition;
  globalSecondaryIndexes: IndexDefinition[];
  /** A change stream with both images of every write (STREAM_CONSUMERS in shared/routes.ts names its consumer). */
  stream?: 'NEW_AND_OLD_IMAGES';
  /** Attribute holding an epoch-seconds expiry, when rows expire. */
  timeToLiveAttribute?: string;
  description: string;
}

export type TableId = 'users' | 'entitlements' | 'ledger' | 'idempotency' | 'apiKeys' | 'emailOwners' | 'kofi';

export const USERS_BY_EMAIL_INDEX = 'byEmail';
export const USERS_BY_STRIPE_CUSTOMER_INDEX = 'byStripeCustomer';
export const API_KEYS_BY_USER_INDEX = 'byUser';

export const TABLES: Record<TableId, TableDefinition> = {
  users: {
    id: 'users',
    envVar: 'TABLE_USERS',
    partitionKey: { name: 'userId', type: 'S' },
    globalSecondaryIndexes: [
      { indexName: USERS_BY_EMAIL_INDEX, partitionKey: { name: 'email', type: 'S' } },
      { indexName: USERS_BY_STRIPE_CUSTOMER_INDEX, partitionKey: { name: 'stripeCustomerId', type: 'S' } },
    ],
    description: 'User profile: Cognito sub, normalised email, Stripe customer id.',
  },
  entitlements: {
    id: 'entitlements',
    envVar: 'TABLE_ENTITLEMENTS',
    partitionKey: { name: 'userId', type: 'S' },
    globalSecondaryIndexes: [],
    // entitlement.changed is derived from this stream, so no writer can forget to publish.
    stream: 'NEW_AND_OLD_IMAGES',
    description: 'Subscription state derived from Stripe, tier and token balances.',
  },
  ledger: {
    id: 'ledger',
    envVar: 'TABLE_LEDGER',
    partitionKey: { name: 'userId', type: 'S' },
    sortKey: { name: 'entryId', type: 'S' },
    globalSecondaryIndexes: [],
    timeToLiveAttribute: 'expiresAt',
    description: 'Token ledger: every consume, add, reset and top-up.',
  },
  idempotency: {
    id: 'idempotency',
    envVar: 'TABLE_IDEMPOTENCY',
    partitionKey: { name: 'key', type: 'S' },
    globalSecondaryIndexes: [],
    timeToLiveAttribute: 'expiresAt',
    description: 'Idempotency records and processed webhook event ids.',
  },
  apiKeys: {
    id: 'apiKeys',
    envVar: 'TABLE_API_KEYS',
    partitionKey: { name: 'keyHash', type: 'S' },
    globalSecondaryIndexes: [{ indexName: API_KEYS_BY_USER_INDEX, partitionKey: { name: 'userId', type: 'S' } }],
    description: 'End-user API keys, stored only as SHA-256 hashes.',
  },
  emailOwners: {
    id: 'emailOwners',
    envVar: 'TABLE_EMAIL_OWNERS',
    // One item per normalised address, written conditionally: the key makes ownership exclusive.
    partitionKey: { name: 'email', type: 'S' },
    globalSecondaryIndexes: [],
    description: 'Email ownership: which live profile holds each verified address (one owner per address).',
  },
  kofi: {
    id: 'kofi',
    envVar: 'TABLE_KOFI',
    // By supporter email (a Ko-fi payer may have no account): the grant (`grant`) and one item per payment (`payment#<message id>`).
    partitionKey: { name: 'email', type: 'S' },
    sortKey: { name: 'entryId', type: 'S' },
    globalSecondaryIndexes: [],
    description: 'Ko-fi supporters by email: the plan paid through a date, and an auditable record of every payment.',
  },
};

export const TABLE_LIST: TableDefinition[] = Object.values(TABLES);
