import { awsSection, cognitoSection, loadConfig, redisSection, stripeSection, tablesSection } from '../../shared/config';
import { wireAws, wireCache, wireIdentity, wireStores } from '../../shared/adapters/wiring';
import { wireStripe } from '../../shared/adapters/stripe/wiring';
import { cognitoCaller } from '../../shared/http/auth';
import { AppError, DependencyUnavailableError } from '../../shared/http/errors';
import { httpHandler } from '../../shared/http/handler';
import { logger } from '../../shared/observability/logger';
import { jsonResponse } from '../../shared/http/response';
import { deleteAccount, type DeletionDeps } from '../../shared/use-cases/delete-account';

const config = loadConfig({ aws: awsSection, tables: tablesSection, redis: redisSection, stripe: stripeSection, cognito: cognitoSection });
const aws = wireAws(config.aws);
const stores = wireStores(aws, config.tables);
const deps: DeletionDeps = {
  users: stores.users,
  entitlements: stores.entitlements,
  billing: wireStripe(aws, config.stripe).billing,
  cache: wireCache(aws, config.redis),
  purger: stores.purger,
  identity: wireIdentity(config.aws, config.cognito),
  jobs: stores.deletionJobs,
  now: () => new Date(),
};

export const handler = httpHandler(async (event) => {
  const caller = cognitoCaller(event, config.cognito.COGNITO_CLIENT_IDS);
  // The access token's `username` is the pool's user name (the sub for email sign-in pools).
  let result;
  try {
    result = await deleteAccount(deps, { userId: caller.userId, username: caller.username ?? caller.userId });
  } catch (err) {
    if (err instanceof AppError) throw err;
    // Any step that failed (Redis, DynamoDB, Cognito) is recorded in the job: 503, and the next call resumes there.
    logger.error('account deletion stopped; the next call resumes it', { error: err as Error });
    throw new DependencyUnavailableError(`account deletion stopped: ${(err as Error).name}`);
  }
  return jsonResponse(200, { deleted: result.deleted });
});
