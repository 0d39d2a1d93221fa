import { kofiSection, loadConfig } from '../config';
import { DynamoProcessedEvents } from '../adapters/dynamodb/processed-events';
import { once } from '../adapters/secrets';
import { DEFAULT_KOFI_RULES, type KofiRules } from '../domain/kofi';
import type { KofiWebhookDeps } from '../use-cases/kofi-webhook';
import { logger } from '../observability/logger';
import { catalogue } from './access';
import { aws, tables } from './aws';
import { cache } from './cache';
import { perProcess } from './process';
import { stores } from './stores';

/**
 * The Ko-fi rules of this deployment: tier name -> plan, default plan, grace
 * days, from the catalogue file's `sources.kofi` (the defaults where the file
 * has none).
 */
export const kofiRules = perProcess((): KofiRules => catalogue().sources.kofi ?? DEFAULT_KOFI_RULES);

/**
 * What the Ko-fi webhook needs. The verification token is read once: from
 * Secrets Manager on AWS (`KOFI_SECRET_ARN`, the whole SecretString is the
 * token), the plain value locally; reading starts at cold start and a failed
 * read is retried by the next delivery (503 meanwhile: Ko-fi retries).
 */
export const kofiWebhook = perProcess((): KofiWebhookDeps => {
  const config = loadConfig({ kofi: kofiSection }).kofi;
  const verificationToken = once(async () => {
    const arn = config.KOFI_SECRET_ARN;
    const value = arn ? await aws().readSecret(arn) : config.KOFI_VERIFICATION_TOKEN;
    if (!value?.trim()) throw new Error('the Ko-fi verification token is not configured');
    return value.trim();
  });
  verificationToken().catch((err: unknown) => logger.warn('Ko-fi verification token not loaded at cold start', { reason: String(err) }));
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
