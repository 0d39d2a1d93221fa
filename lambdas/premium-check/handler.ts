import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { internalApiKeysLoader } from '../../shared/adapters/internal-api-keys';
import { wireAccess, wireAws, wireCache, wireCatalogue, wireStores } from '../../shared/adapters/wiring';
import { awsSection, internalKeysSection, loadConfig, policySection, redisSection, tablesSection, tiersSection } from '../../shared/config';
import { InternalApiKeys } from '../../shared/http/auth';
import { httpHandler } from '../../shared/http/handler';
import { parseJsonBody } from '../../shared/http/request';
import { premiumCheckBody } from '../../shared/http/schemas';
import { jsonResponse } from '../../shared/http/response';
import { checkPremium, type PremiumCheckDeps } from '../../shared/use-cases/premium-check';

export interface PremiumCheckHandlerDeps {
  apiKeys: () => Promise<InternalApiKeys>;
  premium: PremiumCheckDeps;
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
    // A failed read of the keys' secret is a dependency failure (503, error policy); the next call reads again.
    const keys = resolvedKeys ?? (resolvedKeys = await deps.apiKeys());
    keys.assert(event);
    const { email } = parseJsonBody(event, premiumCheckBody);
    // DynamoDB down or hung: DependencyUnavailable from the adapters -> 503; never a default answer.
    return jsonResponse(200, await checkPremium(deps.premium, email));
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
