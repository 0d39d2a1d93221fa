import { access } from '../../shared/wiring/access';
import { cache } from '../../shared/wiring/cache';
import { internalKeys } from '../../shared/wiring/internal-keys';
import { stores } from '../../shared/wiring/stores';
import type { InternalApiKeys } from '../../shared/http/auth';
import { httpHandler, withInternalKey, type HttpHandler } from '../../shared/http/handler';
import { parseJsonBody } from '../../shared/http/request';
import { premiumCheckBody } from '../../shared/http/request-schemas';
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
export function createPremiumCheckHandler(deps: PremiumCheckHandlerDeps): HttpHandler {
  return httpHandler(
    withInternalKey(deps.apiKeys, async (event) => {
      const { email } = parseJsonBody(event, premiumCheckBody);
      // DynamoDB down or hung: DependencyUnavailable from the adapters -> 503; never a default answer.
      return jsonResponse(200, await checkPremium(deps.premium, email));
    }),
  );
}

// While the Redis AUTH secret cannot be read, answers come from DynamoDB (the read is retried next call).
const { users, entitlements, kofi } = stores();
export const handler = createPremiumCheckHandler({
  apiKeys: internalKeys(),
  premium: { users, entitlements, kofi, cache: cache(), decide: access().decide, now: () => new Date() },
});
