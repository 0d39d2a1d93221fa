import { createDynamoClients, createSecretsClient } from '../adapters/clients';
import { resolveSecret } from '../adapters/secrets';
import { awsConfig } from './aws-config';
import { perProcess } from './process';

export { awsConfig, tables } from './aws-config';

/** DynamoDB (raw and document clients) and the Secrets Manager reader, one of each per process. */
export const aws = perProcess(() => {
  const config = awsConfig();
  const dynamo = createDynamoClients(config);
  const secrets = createSecretsClient(config);
  const readSecret = (arn: string) => resolveSecret({ arn, name: arn }, () => secrets);
  return { config, dynamo, readSecret };
});
