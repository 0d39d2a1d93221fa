import { internalKeysSection, loadConfig } from '../config';
import { once } from '../adapters/secrets';
import { InternalApiKeys } from '../http/auth';
import { logger } from '../observability/logger';
import { aws } from './aws';
import { perProcess } from './process';

/**
 * The internal API keys, read once: from Secrets Manager on AWS
 * (`INTERNAL_API_KEYS_SECRET_ARN`), the plain list locally. Reading starts at
 * cold start; the first request awaits the same promise, and a failed read is
 * retried by the next request (503 meanwhile, by the error policy).
 */
export const internalKeys = perProcess((): (() => Promise<InternalApiKeys>) => {
  const config = loadConfig({ internalKeys: internalKeysSection }).internalKeys;
  const keys = once(async () => {
    const arn = config.INTERNAL_API_KEYS_SECRET_ARN;
    const value = arn ? await aws().readSecret(arn) : config.INTERNAL_API_KEYS;
    if (value === undefined) throw new Error('internal API keys are not configured');
    return InternalApiKeys.parse(value);
  });
  keys().catch((err: unknown) => logger.warn('internal API keys not loaded at cold start', { reason: String(err) }));
  return keys;
});
