import { awsSection, cognitoSection, loadConfig, policySection, redisSection, tablesSection, tiersSection } from '../../shared/config';
import { wireAws, wireCache, wireCatalogue, wireStores } from '../../shared/adapters/wiring';
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
const policy = { pastDueGrace: config.policy.PAST_DUE_GRACE };

export const handler = httpHandler(async (event) => {
  const caller = cognitoCaller(event, config.cognito.COGNITO_CLIENT_IDS);
  const { value: record, source } = await cache.read(cacheKeys.entitlement(caller.userId), async () => {
    return (await stores.entitlements.get(caller.userId, { consistent: true })) ?? null;
  });
  return jsonResponse(200, entitlementView(caller.userId, record ?? undefined, catalogue, policy, new Date()), { 'x-entitlements-source': source });
});
