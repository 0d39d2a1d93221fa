import { awsSection, cognitoSection, loadConfig, policySection, redisSection, tablesSection, tiersSection } from '../../shared/config';
import { wireAccess, wireApiKeys, wireAws, wireCache, wireCatalogue, wireStores } from '../../shared/adapters/wiring';
import { describeApiUsage } from '../../shared/domain/usage';
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
const access = wireAccess(wireCatalogue(config.tiers), config.policy);
const { usage } = wireApiKeys(aws, config.tables);

export const handler = httpHandler(async (event) => {
  const caller = cognitoCaller(event, config.cognito.COGNITO_CLIENT_IDS);
  const now = new Date();
  const { value: record, source } = await cache.read(cacheKeys.entitlement(caller.userId), async () => {
    return (await stores.entitlements.get(caller.userId, { consistent: true })) ?? null;
  });
  // Decided now, from the row: a cached row never carries a stale decision (a grace or a period can end while cached).
  const decision = access.decide(record ?? undefined, now);
  // The period's API call count is read from DynamoDB every time: it is billing data.
  const used = await usage.used(caller.userId, 'api-calls', decision.period.id);
  const view = entitlementView(caller.userId, record ?? undefined, decision);
  return jsonResponse(200, { ...view, usage: describeApiUsage(used, decision.monthlyApiCalls, decision.period) }, { 'x-entitlements-source': source });
});
