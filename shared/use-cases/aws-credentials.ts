import { randomBytes } from 'node:crypto';
import type { AccessDecider, AccessReason } from '../domain/access';
import { roleSessionName, sourceIdentity, type SessionPolicy } from '../domain/aws-credentials';
import { credentialGrantEntry } from '../domain/usage';
import type { UsageStore } from '../ports/api-keys';
import type { CredentialsVendor, TemporaryCredentials } from '../ports/credentials';
import type { EntitlementStore } from '../ports/entitlements';
import { rateLimitKey, type RateLimiter } from '../ports/rate-limiter';

export interface AwsCredentialsDeps {
  entitlements: Pick<EntitlementStore, 'get'>;
  usage: Pick<UsageStore, 'logCredentialGrant'>;
  limiter: RateLimiter;
  vendor: CredentialsVendor;
  decide: AccessDecider;
  /** What every grant carries: the session policy, its duration and the actions it allows. */
  grant: { policy: SessionPolicy; durationSeconds: number; actions: readonly string[] };
  now: () => Date;
}

export type IssueCredentialsResult =
  | { outcome: 'issued'; credentials: TemporaryCredentials }
  | { outcome: 'not-included'; reason: AccessReason }
  | { outcome: 'no-identity' }
  | { outcome: 'rate-limited'; retryAfterSeconds: number }
  | { outcome: 'being-deleted' };

/**
 * POST /me/aws-credentials. Primary course:
 * 1. the access decision must include AWS credentials (nothing else is read before);
 * 2. take one from the per-minute rate (fails closed: without Redis the limiter
 *    throws, 503, because a leaked token must not mint credentials in a loop);
 * 3. assume the role with the user as source identity and the session policy (STS);
 * 4. log the grant; the credentials are answered only once it is logged
 *    (an account being deleted gets nothing).
 */
export async function issueAwsCredentials(deps: AwsCredentialsDeps, userId: string): Promise<IssueCredentialsResult> {
  const decision = deps.decide(await deps.entitlements.get(userId, { consistent: true }), deps.now());
  const perMinute = decision.rateLimits.awsCredentialsPerMinute;
  if (!decision.awsCredentials || perMinute === null) return { outcome: 'not-included', reason: decision.reason };
  const identity = sourceIdentity(userId);
  if (!identity) return { outcome: 'no-identity' };

  const taken = await deps.limiter.take(rateLimitKey('aws-credentials', userId), perMinute, 60_000);
  if (!taken.allowed) return { outcome: 'rate-limited', retryAfterSeconds: taken.retryAfterMs / 1000 };

  const sessionName = roleSessionName(userId);
  const { durationSeconds, policy, actions } = deps.grant;
  // STS hung, throttled or refusing: a port error (503 by the error policy), never partial credentials.
  const credentials = await deps.vendor.assumeRole({ roleSessionName: sessionName, sourceIdentity: identity, durationSeconds, policy });
  const logged = await deps.usage.logCredentialGrant(
    credentialGrantEntry(
      {
        userId,
        roleSessionName: sessionName,
        durationSeconds,
        accessKeyId: credentials.accessKeyId,
        credentialsExpireAt: credentials.expiration.toISOString(),
        actions: [...actions],
      },
      deps.now(),
      randomBytes(6).toString('hex'),
    ),
  );
  if (logged === 'gone') return { outcome: 'being-deleted' };
  return { outcome: 'issued', credentials };
}
