import { AssumeRoleCommand, type STSClient } from '@aws-sdk/client-sts';
import type { SessionPolicy } from '../../domain/aws-credentials';
import { DependencyUnavailable } from '../../ports/errors';
import { CredentialsVendorError, type CredentialsVendor, type TemporaryCredentials } from '../../ports/credentials';

/** STS AssumeRole on the one role subscribers' sessions are cut from. */
export class StsCredentialsVendor implements CredentialsVendor {
  constructor(
    private readonly sts: STSClient,
    private readonly roleArn: string,
  ) {}

  async assumeRole(request: { roleSessionName: string; sourceIdentity: string; durationSeconds: number; policy: SessionPolicy }): Promise<TemporaryCredentials> {
    let out;
    try {
      out = await this.sts.send(
        new AssumeRoleCommand({
          RoleArn: this.roleArn,
          RoleSessionName: request.roleSessionName,
          SourceIdentity: request.sourceIdentity,
          DurationSeconds: request.durationSeconds,
          Policy: JSON.stringify(request.policy),
        }),
      );
    } catch (err) {
      // Timeouts, throttling and outages were classified by the client (shared/adapters/aws-errors.ts).
      if (err instanceof DependencyUnavailable) throw err;
      // STS answered with a refusal (access denied, region disabled...): the vendor could not issue credentials.
      throw new CredentialsVendorError((err as { name?: string }).name ?? 'unknown', { cause: err });
    }
    const c = out.Credentials;
    if (!c?.AccessKeyId || !c.SecretAccessKey || !c.SessionToken || !c.Expiration) throw new CredentialsVendorError('incomplete_response');
    return { accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretAccessKey, sessionToken: c.SessionToken, expiration: c.Expiration };
  }
}
