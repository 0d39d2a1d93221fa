import { access } from '../../shared/wiring/access';
import { cache } from '../../shared/wiring/cache';
import { cognitoClientIds } from '../../shared/wiring/cognito';
import { apiKeyStores } from '../../shared/wiring/api-keys';
import { stores } from '../../shared/wiring/stores';
import { asCaller, httpHandler, type HttpHandler } from '../../shared/http/handler';
import { jsonResponse } from '../../shared/http/response';
import { readEntitlements, type EntitlementsDeps } from '../../shared/use-cases/entitlements';

export interface EntitlementsHandlerDeps {
  entitlements: EntitlementsDeps;
  cognitoClientIds: readonly string[];
}

/** GET /me/entitlements: the caller's plan, balances, limits and this period's usage. */
export function createEntitlementsHandler(deps: EntitlementsHandlerDeps): HttpHandler {
  return httpHandler(
    asCaller(deps.cognitoClientIds, async ({ userId }) => {
      const { view, source } = await readEntitlements(deps.entitlements, userId);
      return jsonResponse(200, view, { 'x-entitlements-source': source });
    }),
  );
}

export const handler = createEntitlementsHandler({
  entitlements: { entitlements: stores().entitlements, usage: apiKeyStores().usage, cache: cache(), decide: access().decide, now: () => new Date() },
  cognitoClientIds: cognitoClientIds(),
});
