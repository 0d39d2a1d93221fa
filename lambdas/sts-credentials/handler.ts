import { access } from '../../shared/wiring/access';
import { rateLimiter } from '../../shared/wiring/rate-limiter';
import { cognitoClientIds } from '../../shared/wiring/cognito';
import { credentialsVendor } from '../../shared/wiring/credentials';
import { apiKeyStores } from '../../shared/wiring/api-keys';
import { stores } from '../../shared/wiring/stores';
import { describeReason } from '../../shared/domain/access';
import { ForbiddenError, RateLimitedError } from '../../shared/http/errors';
import { asCaller, httpHandler, type HttpHandler } from '../../shared/http/handler';
import { jsonResponse } from '../../shared/http/response';
import { issueAwsCredentials, type AwsCredentialsDeps } from '../../shared/use-cases/aws-credentials';

export interface StsCredentialsHandlerDeps {
  credentials: AwsCredentialsDeps;
  cognitoClientIds: readonly string[];
  /** The region the credentials are for (the caller's SDK needs it). */
  region: string;
}

/**
 * POST /me/aws-credentials: short-lived credentials for speech-to-text, when
 * the access decision allows them (a plan with `aws-credentials`: active or
 * trialing, a grace, an admin grant or tier; never after a revoke).
 */
export function createStsCredentialsHandler(deps: StsCredentialsHandlerDeps): HttpHandler {
  return httpHandler(asCaller(deps.cognitoClientIds, async ({ userId }) => {
    const result = await issueAwsCredentials(deps.credentials, userId);
    switch (result.outcome) {
      case 'not-included':
        throw new ForbiddenError(`AWS credentials need a plan that includes them: ${describeReason(result.reason)}`);
      case 'no-identity':
        throw new ForbiddenError('This account cannot receive AWS credentials');
      case 'rate-limited':
        throw new RateLimitedError('Too many credential requests; retry later', result.retryAfterSeconds);
      case 'being-deleted':
        throw new ForbiddenError('This account is being deleted');
      case 'issued': {
        const { accessKeyId, secretAccessKey, sessionToken, expiration } = result.credentials;
        return jsonResponse(200, { accessKeyId, secretAccessKey, sessionToken, expiration: expiration.toISOString(), region: deps.region });
      }
    }
  }));
}

const sts = credentialsVendor();
export const handler = createStsCredentialsHandler({
  credentials: {
    entitlements: stores().entitlements,
    usage: apiKeyStores().usage,
    limiter: rateLimiter(),
    vendor: sts.vendor,
    decide: access().decide,
    grant: { policy: sts.policy, durationSeconds: sts.durationSeconds, actions: sts.actions },
    now: () => new Date(),
  },
  cognitoClientIds: cognitoClientIds(),
  region: sts.region,
});
