import { awsSection, cognitoSection, loadConfig, redisSection, stripeSection, tablesSection } from '../../shared/config';
import { wireAws, wireCache, wireEmailIdentity, wireStores } from '../../shared/adapters/wiring';
import { wireStripe } from '../../shared/adapters/stripe/wiring';
import { cognitoCaller } from '../../shared/http/auth';
import { NotFoundError, UnauthorizedError } from '../../shared/http/errors';
import { httpHandler, routeKey } from '../../shared/http/handler';
import { header, parseJsonBody } from '../../shared/http/request';
import { emailChangeBody, emailVerifyBody } from '../../shared/http/schemas';
import { jsonResponse } from '../../shared/http/response';
import { confirmEmailChange, startEmailChange, type EmailChangeDeps } from '../../shared/use-cases/email-change';

const config = loadConfig({ aws: awsSection, tables: tablesSection, redis: redisSection, cognito: cognitoSection, stripe: stripeSection });
const aws = wireAws(config.aws);
const stores = wireStores(aws, config.tables);
const deps: EmailChangeDeps = {
  users: stores.users,
  identity: wireEmailIdentity(config.aws, config.cognito.COGNITO_ENDPOINT, () => config.cognito.COGNITO_USER_POOL_ID),
  cache: wireCache(aws, config.redis),
  billing: wireStripe(aws, config.stripe).billing,
};

/**
 * POST /me/email and POST /me/email/verify. The app client cannot write the
 * `email` attribute, so these routes are the only way an address changes
 * with a user's token: the backend moves the address ownership in the same
 * step Cognito verifies it. The use case's refusals (taken address, no
 * pending change, wrong code) are mapped once, in shared/http/error-policy.ts.
 */
export const handler = httpHandler(async (event) => {
  const caller = cognitoCaller(event, config.cognito.COGNITO_CLIENT_IDS);
  switch (routeKey(event)) {
    case 'POST /me/email': {
      const { email } = parseJsonBody(event, emailChangeBody);
      const result = await startEmailChange(deps, caller.userId, email);
      return jsonResponse(result.pendingEmail ? 202 : 200, result);
    }
    case 'POST /me/email/verify': {
      const { code } = parseJsonBody(event, emailVerifyBody);
      // VerifyUserAttribute is authorised by the user's own access token, the one the authorizer accepted.
      const accessToken = header(event, 'authorization')?.replace(/^Bearer\s+/i, '').trim();
      if (!accessToken) throw new UnauthorizedError('A Cognito access token is required');
      return jsonResponse(200, await confirmEmailChange(deps, { userId: caller.userId, accessToken }, code));
    }
    default:
      throw new NotFoundError('No route for this method and path');
  }
});
