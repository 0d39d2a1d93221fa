import type { SessionPolicy } from '../domain/aws-credentials';

/** Mints temporary AWS credentials (STS AssumeRole on AWS and against the local emulator). */
export interface CredentialsVendor {
  assumeRole(request: {
    roleSessionName: string;
    sourceIdentity: string;
    durationSeconds: number;
    policy: SessionPolicy;
  }): Promise<TemporaryCredentials>;
}

export interface TemporaryCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
  expiration: Date;
}

/** STS refused or could not be reached: the caller answers 503, never partial credentials. */
export class CredentialsVendorError extends Error {
  constructor(
    readonly code: string,
    options?: { cause?: unknown },
  ) {
    super(`credentials vendor failed: ${code}`, options);
    this.name = 'CredentialsVendorError';
  }
}
