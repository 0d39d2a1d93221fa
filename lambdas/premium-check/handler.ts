import { DynamoDBServiceException } from '@aws-sdk/client-dynamodb';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { internalApiKeysLoader } from '../../shared/adapters/internal-api-keys';
import { wireAccess, wireAws, wireCache, wireCatalogue, wireStores } from '../../shared/adapters/wiring';
import { awsSection, internalKeysSection, loadConfig, policySection, redisSection, tablesSection, tiersSection } from '../../shared/config';
import { InternalApiKeys } from '../../shared/http/auth';
import { DependencyUnavailableError } from '../../shared/http/errors';
import { httpHandler } from '../../shared/http/handler';
import { parseJsonBody } from '../../shared/http/request';
import { premiumCheckBody } from '../../shared/http/schemas';
import { jsonResponse } from '../../shared/http/response';
import { logger } from '../../shared/observability/logger';
import { checkPremium, type PremiumCheckDeps } from '../../shared/use-cases/premium-check';

export interface PremiumCheckHandlerDeps {
  apiKeys: () => Promise<InternalApiKeys>;
  premium: PremiumCheckDeps;
}

const NETWORK_ERRORS = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND', 'EPIPE']);

/** DynamoDB unreachable, throttled or failing on its side: 503, not a generic 500. */
function isDependencyFailure(err: unknown): boolean {
  if (err instanceof DynamoDBServiceException) return err.$fault === 'server' || err.$retryable !== undefined;
  // The SDK gave up without any HTTP answer (refused, reset, timed out).
  const metadata = (err as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata;
  if (metadata && metadata.httpStatusCode === undefined) return true;
  const code = (err as { code?: unknown } | undefined)?.code;
  return (typeof code === 'string' && NETWORK_ERRORS.has(code)) || (err as Error | undefined)?.name === 'TimeoutError';
}

/**
 * POST /v1/premium/check for the app's backends (x-api-key). The key is
 * checked first, in constant time; a Cognito token is not a key (401).
 */
export function createPremiumCheckHandler(
  deps: PremiumCheckHandlerDeps,
): (event: APIGatewayProxyEvent, context: Context) => Promise<APIGatewayProxyResult> {
  let resolvedKeys: InternalApiKeys | undefined;
  return httpHandler(async (event) => {
    let keys: InternalApiKeys;
    try {
      keys = resolvedKeys ?? (resolvedKeys = await deps.apiKeys());
    } catch (err) {
      logger.error('internal API keys unavailable', err as Error);
      throw new DependencyUnavailableError('The internal API keys could not be read');
    }
    keys.assert(event);
    const { email } = parseJsonBody(event, premiumCheckBody);
    try {
      return jsonResponse(200, await checkPremium(deps.premium, email));
    } catch (err) {
      if (isDependencyFailure(err)) throw new DependencyUnavailableError(`DynamoDB is unavailable: ${(err as Error).name}`);
      throw err;
    }
  });
}

// Cold start: configuration, clients and secrets once per process.
const config = loadConfig({
  aws: awsSection,
  tables: tablesSection,
  redis: redisSection,
  keys: internalKeysSection,
  policy: policySection,
  tiers: tiersSection,
});
const aws = wireAws(config.aws);
const stores = wireStores(aws, config.tables);
// While the Redis AUTH secret cannot be read, answers come from DynamoDB (the read is retried next call).
const cache = wireCache(aws, config.redis);
const apiKeys = internalApiKeysLoader(config.keys, aws.readSecret);
const { decide } = wireAccess(wireCatalogue(config.tiers), config.policy);

export const handler = createPremiumCheckHandler({
  apiKeys,
  premium: { users: stores.users, entitlements: stores.entitlements, cache, decide, now: () => new Date() },
});
