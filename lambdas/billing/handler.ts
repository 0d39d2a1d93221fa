import { catalogue } from '../../shared/wiring/access';
import { cognitoClientIds } from '../../shared/wiring/cognito';
import { stores } from '../../shared/wiring/stores';
import { stripeAtColdStart, stripeConfig } from '../../shared/wiring/stripe';
import { asCaller, byRoute, httpHandler, type HttpHandler } from '../../shared/http/handler';
import { parseJsonBody } from '../../shared/http/request';
import { checkoutBody } from '../../shared/http/request-schemas';
import { jsonResponse } from '../../shared/http/response';
import { startCheckout, openBillingPortal, type BillingDeps } from '../../shared/use-cases/billing';

export interface BillingHandlerDeps {
  billing: BillingDeps;
  cognitoClientIds: readonly string[];
}

/** POST /me/checkout (a Stripe Checkout for a plan or a top-up) and POST /me/billing-portal. */
export function createBillingHandler(deps: BillingHandlerDeps): HttpHandler {
  return httpHandler(
    byRoute({
      'POST /me/checkout': asCaller(deps.cognitoClientIds, async ({ userId }, event) =>
        jsonResponse(200, await startCheckout(deps.billing, userId, parseJsonBody(event, checkoutBody))),
      ),
      'POST /me/billing-portal': asCaller(deps.cognitoClientIds, async ({ userId }) => jsonResponse(200, await openBillingPortal(deps.billing, userId))),
    }),
  );
}

const config = stripeConfig();
export const handler = createBillingHandler({
  billing: {
    users: stores().users,
    entitlements: stores().entitlements,
    billing: stripeAtColdStart().billing,
    now: () => new Date(),
    catalogue: catalogue(),
    appBaseUrl: config.APP_BASE_URL,
  },
  cognitoClientIds: cognitoClientIds(),
});
