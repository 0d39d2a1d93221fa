import { awsSection, cognitoSection, loadConfig, stripeSection, tablesSection, tiersSection } from '../../shared/config';
import { wireAws, wireCatalogue, wireStores } from '../../shared/adapters/wiring';
import { wireStripe } from '../../shared/adapters/stripe/wiring';
import { cognitoCaller } from '../../shared/http/auth';
import { NotFoundError } from '../../shared/http/errors';
import { httpHandler, routeKey } from '../../shared/http/handler';
import { parseJsonBody } from '../../shared/http/request';
import { checkoutBody } from '../../shared/http/schemas';
import { jsonResponse } from '../../shared/http/response';
import { startCheckout, openBillingPortal, type BillingDeps } from '../../shared/use-cases/billing';

const config = loadConfig({ aws: awsSection, tables: tablesSection, stripe: stripeSection, tiers: tiersSection, cognito: cognitoSection });
const aws = wireAws(config.aws);
const stores = wireStores(aws, config.tables);
const stripe = wireStripe(aws, config.stripe);
const deps: BillingDeps = {
  users: stores.users,
  entitlements: stores.entitlements,
  billing: stripe.billing,
  now: () => new Date(),
  catalogue: wireCatalogue(config.tiers),
  tokenPack: { priceId: config.stripe.STRIPE_PRICE_TOKEN_PACK, size: config.stripe.TOKEN_PACK_SIZE },
  appBaseUrl: config.stripe.APP_BASE_URL,
};

export const handler = httpHandler(async (event) => {
  const caller = cognitoCaller(event, config.cognito.COGNITO_CLIENT_IDS);
  switch (routeKey(event)) {
    case 'POST /me/checkout': {
      const body = parseJsonBody(event, checkoutBody);
      return jsonResponse(200, await startCheckout(deps, caller.userId, body));
    }
    case 'POST /me/billing-portal':
      return jsonResponse(200, await openBillingPortal(deps, caller.userId));
    default:
      throw new NotFoundError('No route for this method and path');
  }
});
