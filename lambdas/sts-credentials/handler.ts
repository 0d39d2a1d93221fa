import { randomBytes } from 'node:crypto';
import { awsSection, cognitoSection, credentialsSection, loadConfig, policySection, redisSection, tablesSection, tiersSection } from '../../shared/config';
import { wireAccess, wireApiKeys, wireAws, wireCatalogue, wireCredentialsVendor, wireRateLimiter, wireStores } from '../../shared/adapters/wiring';
import { rateLimitKey } from '../../shared/adapters/redis/rate-limiter';
import { describeReason } from '../../shared/domain/access';
import { roleSessionName, sessionPolicy, sourceIdentity } from '../../shared/domain/aws-credentials';
import { credentialGrantEntry } from '../../shared/domain/usage';
import { cognitoCaller } from '../../shared/http/auth';
import { ForbiddenError, RateLimitedError } from '../../shared/http/errors';
import { httpHandler } from '../../shared/http/handler';
import { jsonResponse } from '../../shared/http/response';

const config = loadConfig({
  aws: awsSection,
  tables: tablesSection,
  redis: redisSection,
  cognito: cognitoSection,
  credentials: credentialsSection,
  tiers: tiersSection,
  policy: policySection,
});
const aws = wireAws(config.aws);
const stores = wireStores(aws, config.tables);
const { usage } = wireApiKeys(aws, config.tables);
const limiter = wireRateLimiter(aws, config.redis);
const vendor = wireCredentialsVendor(config.aws, config.credentials);
const policy = sessionPolicy(config.credentials.CREDENTIALS_ALLOWED_ACTIONS);
const access = wireAccess(wireCatalogue(config.tiers), config.policy, { credentials: config.credentials });

/**
 * POST /me/aws-credentials: short-lived credentials for speech-to-text, when
 * the access decision allows them (a plan with `aws-credentials`: active or
 * trialing, a grace, an admin grant or tier; never after a revoke). Order: access (403 before
 * anything else), rate limit (fails closed: without Redis, 503, because a
 * leaked token must not mint credentials in a loop), STS, usage log; the
 * credentials are returned only once the grant is logged.
 */
export const handler = httpHandler(async (event) => {
  const { userId } = cognitoCaller(event, config.cognito.COGNITO_CLIENT_IDS);
  const decision = access.decide(await stores.entitlements.get(userId, { consistent: true }), new Date());
  const perMinute = decision.rateLimits.awsCredentialsPerMinute;
  if (!decision.awsCredentials || perMinute === null) {
    throw new ForbiddenError(`AWS credentials need a plan that includes them: ${describeReason(decision.reason)}`);
  }
  const identity = sourceIdentity(userId);
  if (!identity) throw new ForbiddenError('This account cannot receive AWS credentials');

  // Fails closed: without Redis the limiter throws RateLimiterUnavailableError (503 by the error policy).
  const taken = await limiter.take(rateLimitKey('aws-credentials', userId), perMinute, 60_000);
  if (!taken.allowed) throw new RateLimitedError('Too many credential requests; retry later', taken.retryAfterMs / 1000);

  const sessionName = roleSessionName(userId);
  const durationSeconds = config.credentials.CREDENTIALS_DURATION_SECONDS;
  // STS hung, throttled or refusing: a port error (503 by the error policy), never partial credentials.
  const credentials = await vendor.assumeRole({ roleSessionName: sessionName, sourceIdentity: identity, durationSeconds, policy });
  const now = new Date();
  const logged = await usage.logCredentialGrant(
    credentialGrantEntry(
      {
        userId,
        roleSessionName: sessionName,
        durationSeconds,
        accessKeyId: credentials.accessKeyId,
        credentialsExpireAt: credentials.expiration.toISOString(),
        actions: [...config.credentials.CREDENTIALS_ALLOWED_ACTIONS],
      },
      now,
      randomBytes(6).toString('hex'),
    ),
  );
  // Being deleted (or gone): the grant is not recorded and the credentials are never handed out.
  if (logged === 'gone') throw new ForbiddenError('This account is being deleted');
  return jsonResponse(200, {
    accessKeyId: credentials.accessKeyId,
    secretAccessKey: credentials.secretAccessKey,
    sessionToken: credentials.sessionToken,
    expiration: credentials.expiration.toISOString(),
    region: config.aws.AWS_REGION,
  });
});
