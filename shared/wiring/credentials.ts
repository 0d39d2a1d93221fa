import { credentialsSection, loadConfig } from '../config';
import { createStsClient } from '../adapters/sts/client';
import { StsCredentialsVendor } from '../adapters/sts/credentials-vendor';
import { sessionPolicy } from '../domain/aws-credentials';
import { awsConfig } from './aws-config';
import { perProcess } from './process';

export const credentialsConfig = perProcess(() => loadConfig({ credentials: credentialsSection }).credentials);

/** STS (the local emulator through STS_ENDPOINT), the role to assume and the session policy every grant carries. */
export const credentialsVendor = perProcess(() => {
  const config = credentialsConfig();
  return {
    vendor: new StsCredentialsVendor(createStsClient(awsConfig(), config.STS_ENDPOINT), config.CREDENTIALS_ROLE_ARN),
    policy: sessionPolicy(config.CREDENTIALS_ALLOWED_ACTIONS),
    durationSeconds: config.CREDENTIALS_DURATION_SECONDS,
    actions: [...config.CREDENTIALS_ALLOWED_ACTIONS],
    region: awsConfig().AWS_REGION,
  };
});
