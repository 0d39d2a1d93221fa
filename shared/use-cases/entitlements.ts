import type { AccessDecider } from '../domain/access';
import { entitlementView } from '../domain/entitlement-view';
import { describeApiUsage, type ApiUsage } from '../domain/usage';
import type { UsageStore } from '../ports/api-keys';
import { cacheKeys, type CacheSource, type ReadThroughCache } from '../ports/cache';
import type { EntitlementStore } from '../ports/entitlements';

export interface EntitlementsDeps {
  entitlements: Pick<EntitlementStore, 'get'>;
  usage: Pick<UsageStore, 'used'>;
  cache: Pick<ReadThroughCache, 'read'>;
  decide: AccessDecider;
  now: () => Date;
}

/**
 * GET /me/entitlements. Primary course:
 * 1. the entitlement row, read through the cache (DynamoDB strongly consistent on a miss);
 * 2. the access decision made now from it (a cached row never carries a stale
 *    decision: a grace or a period can end while cached);
 * 3. the period's API call count, from DynamoDB every time (it is billing data).
 */
export async function readEntitlements(deps: EntitlementsDeps, userId: string): Promise<{ view: ReturnType<typeof entitlementView> & { usage: ApiUsage }; source: CacheSource }> {
  const { value: record, source } = await deps.cache.read(cacheKeys.entitlement(userId), async () => (await deps.entitlements.get(userId, { consistent: true })) ?? null);
  const decision = deps.decide(record ?? undefined, deps.now());
  const used = await deps.usage.used(userId, 'api-calls', decision.period.id);
  const view = entitlementView(userId, record ?? undefined, decision);
  return { view: { ...view, usage: describeApiUsage(used, decision.monthlyApiCalls, decision.period) }, source };
}
