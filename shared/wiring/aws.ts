import { awsSection, loadConfig, tablesSection } from '../config';
import { createDynamoClients, createSecretsClient } from '../adapters/clients';
import { resolveSecret } from '../adapters/secrets';
import { perProcess } from './process';

export const awsConfig = perProcess(() => loadConfig({ aws: awsSection }).aws);
export const tables = perProcess(() => loadConfig({ tables: tablesSection }).tables);

/** DynamoDB (raw and document clients) and the Secrets Manager reader, one of each per process. */
export const aws = perProcess(() => {
  const config = awsConfig();
  const dynamo = createDynamoClients(config);
  const secrets = createSecretsClient(config);
  const readSecret = (arn: string) => resolveSecret({ arn, name: arn }, () => secrets);
  return { config, dynamo, readSecret };
});
