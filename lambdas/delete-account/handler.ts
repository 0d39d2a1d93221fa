import { awsSection, cognitoSection, loadConfig, redisSection, stripeSection, tablesSection } from '../../shared/config';
import { wireAws, wireCache, wireIdentity, wireStores, wireStripe } from '../../shared/adapters/wiring';
import { cognitoCaller } from '../../shared/http/auth';
import { httpHandler } from '../../shared/http/handler';
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
  const result = await deleteAccount(deps, { userId: caller.userId, username: caller.username ?? caller.userId });
  return jsonResponse(200, { deleted: result.deleted });
});
