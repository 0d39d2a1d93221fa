import { kofiSection, loadConfig } from '../config';
import { DynamoProcessedEvents } from '../adapters/dynamodb/processed-events';
import { RotatingSecret } from '../adapters/secrets';
import { defaultKofiRules, type KofiRules } from '../domain/kofi';
import type { KofiWebhookDeps } from '../use-cases/kofi-webhook';
import { logger } from '../observability/logger';
import { catalogue } from './access';
import { aws, tables } from './aws';
import { cache } from './cache';
import { perProcess } from './process';
import { stores } from './stores';

/**
 * The Ko-fi rules of this deployment: tier name -> plan, default plan, grace
 * days, from the catalogue file's `sources.kofi` (where the file has none:
 * no tier listed, the lowest purchasable premium plan, 3 days).
 */
export const kofiRules = perProcess((): KofiRules => catalogue().sources.kofi ?? defaultKofiRules(catalogue()));

/**
 * What the Ko-fi webhook needs. The verification token: from Secrets
 * Manager on AWS (`KOFI_SECRET_ARN`, the whole SecretString is the token), the
 * plain value locally; read at cold start (a failed read is retried by the
 * next delivery: 503 meanwhile, Ko-fi retries) and again after a mismatch, at
 * most once a minute, so a rotated token reaches warm functions. An unset
 * token (empty, the old placeholder) is not an error here: the use case
 * refuses every delivery with it, logged and counted.
 */
export const kofiWebhook = perProcess((): KofiWebhookDeps => {
  const config = loadConfig({ kofi: kofiSection }).kofi;
  const verificationToken = new RotatingSecret(async () => {
    const arn = config.KOFI_SECRET_ARN;
    const value = arn ? await aws().readSecret(arn) : config.KOFI_VERIFICATION_TOKEN;
    return value?.trim() ?? '';
  });
  verificationToken.current().catch((err: unknown) => logger.warn('Ko-fi verification token not loaded at cold start', { reason: String(err) }));
  const { users, entitlements, kofi } = stores();
  return {
    verificationToken,
    rules: kofiRules(),
    supporters: kofi,
    users,
    entitlements,
    // Beside Stripe's event ids, in their own namespace.
    processed: new DynamoProcessedEvents(aws().dynamo.doc, tables().TABLE_IDEMPOTENCY, 'kofi'),
    cache: cache(),
    now: () => new Date(),
  };
});
