import { awsSection, cognitoSection, loadConfig, policySection, redisSection, tablesSection, tiersSection } from '../../shared/config';
import { wireApiKeys, wireAws, wireCache, wireCatalogue, wireStores } from '../../shared/adapters/wiring';
import { tokenPeriodOf } from '../../shared/domain/tokens';
import { apiCallLimitFor, describeApiUsage } from '../../shared/domain/usage';
import { cognitoCaller } from '../../shared/http/auth';
import { httpHandler } from '../../shared/http/handler';
import { jsonResponse } from '../../shared/http/response';
import { cacheKeys } from '../../shared/ports/cache';
import { entitlementView } from '../../shared/domain/entitlement-view';

const config = loadConfig({
  aws: awsSection,
  tables: tablesSection,
  redis: redisSection,
  cognito: cognitoSection,
  tiers: tiersSection,
  policy: policySection,
});
const aws = wireAws(config.aws);
const stores = wireStores(aws, config.tables);
const cache = wireCache(aws, config.redis);
const catalogue = wireCatalogue(config.tiers);
const { usage } = wireApiKeys(aws, config.tables);
const policy = { pastDueGrace: config.policy.PAST_DUE_GRACE };

export const handler = httpHandler(async (event) => {
  const caller = cognitoCaller(event, config.cognito.COGNITO_CLIENT_IDS);
  const now = new Date();
  // The month's API call count is read from DynamoDB every time (one GetItem, beside the cache read): it is billing data.
  const [{ value: record, source }, used] = await Promise.all([
    cache.read(cacheKeys.entitlement(caller.userId), async () => {
      return (await stores.entitlements.get(caller.userId, { consistent: true })) ?? null;
    }),
    usage.used(caller.userId, 'api-calls', tokenPeriodOf(now)),
  ]);
  const view = entitlementView(caller.userId, record ?? undefined, catalogue, policy, now);
  return jsonResponse(200, { ...view, usage: describeApiUsage(used, apiCallLimitFor(view, catalogue), now) }, { 'x-entitlements-source': source });
});
