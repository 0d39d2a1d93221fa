import { cache } from '../../shared/wiring/cache';
import { cognitoClientIds } from '../../shared/wiring/cognito';
import { emailIdentity } from '../../shared/wiring/identity';
import { stores } from '../../shared/wiring/stores';
import { stripe } from '../../shared/wiring/stripe';
import { UnauthorizedError } from '../../shared/http/errors';
import { asCaller, byRoute, httpHandler, type HttpHandler } from '../../shared/http/handler';
import { header, parseJsonBody } from '../../shared/http/request';
import { emailChangeBody, emailVerifyBody } from '../../shared/http/request-schemas';
import { jsonResponse } from '../../shared/http/response';
import { confirmEmailChange, startEmailChange, type EmailChangeDeps } from '../../shared/use-cases/email-change';

export interface AccountEmailHandlerDeps {
  emailChange: EmailChangeDeps;
  cognitoClientIds: readonly string[];
}

/**
 * POST /me/email and POST /me/email/verify. The app client cannot write the
 * `email` attribute, so these routes are the only way an address changes
 * with a user's token: the backend moves the address ownership in the same
 * step Cognito verifies it. The use case's refusals (taken address, no
 * pending change, wrong code) are mapped once, in shared/http/error-policy.ts.
 */
export function createAccountEmailHandler(deps: AccountEmailHandlerDeps): HttpHandler {
  return httpHandler(
    byRoute({
      'POST /me/email': asCaller(deps.cognitoClientIds, async ({ userId }, event) => {
        const result = await startEmailChange(deps.emailChange, userId, parseJsonBody(event, emailChangeBody).email);
        return jsonResponse(result.pendingEmail ? 202 : 200, result);
      }),
      'POST /me/email/verify': asCaller(deps.cognitoClientIds, async ({ userId }, event) => {
        const { code } = parseJsonBody(event, emailVerifyBody);
        // VerifyUserAttribute is authorised by the user's own access token, the one the authorizer accepted.
        const accessToken = header(event, 'authorization')?.replace(/^Bearer\s+/i, '').trim();
        if (!accessToken) throw new UnauthorizedError('A Cognito access token is required');
        return jsonResponse(200, await confirmEmailChange(deps.emailChange, { userId, accessToken }, code));
      }),
    }),
  );
}

export const handler = createAccountEmailHandler({
  emailChange: {
    users: stores().users,
    identity: emailIdentity(),
    cache: cache(),
    billing: stripe().billing,
    kofi: { supporters: stores().kofi, entitlements: stores().entitlements },
  },
  cognitoClientIds: cognitoClientIds(),
});
