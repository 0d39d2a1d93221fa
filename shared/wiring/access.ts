import type { ApiKeysConfig, CredentialsConfig, PolicyConfig } from '../config';
import { apiKeysSection, credentialsSection, loadConfig, policySection, tierSettings, tiersSection } from '../config';
import { DEFAULT_ACCESS_POLICY, decideAccess, type AccessDecider, type AccessPolicy } from '../domain/access';
import { buildTierCatalogue, type Tier } from '../domain/tiers';
import { perProcess } from './process';

/** The tier catalogue of this deployment (TIER_* variables). */
export const catalogue = perProcess(() => buildTierCatalogue(tierSettings(loadConfig({ tiers: tiersSection }).tiers)));

/**
 * The one access decision, bound to a catalogue and a policy. Scripts and
 * tests that hold their own configuration build it here too.
 */
export function accessDecider(
  tiers: readonly Tier[],
  policy: PolicyConfig,
  rates: { apiKeys?: ApiKeysConfig; credentials?: Pick<CredentialsConfig, 'CREDENTIALS_RATE_LIMIT_PER_MINUTE'> } = {},
): { policy: AccessPolicy; decide: AccessDecider } {
  const defaults = DEFAULT_ACCESS_POLICY.rates;
  const accessPolicy: AccessPolicy = {
    pastDueGrace: policy.PAST_DUE_GRACE,
    pastDueGraceDays: policy.PAST_DUE_GRACE_DAYS,
    grantTier: policy.ADMIN_GRANT_TIER,
    rates: {
      apiCallsPerWindow: rates.apiKeys?.API_KEY_RATE_LIMIT ?? defaults.apiCallsPerWindow,
      apiCallWindowMs: rates.apiKeys?.API_KEY_RATE_WINDOW_MS ?? defaults.apiCallWindowMs,
      awsCredentialsPerMinute: rates.credentials?.CREDENTIALS_RATE_LIMIT_PER_MINUTE ?? defaults.awsCredentialsPerMinute,
    },
  };
  return { policy: accessPolicy, decide: (state, now) => decideAccess(state, tiers, accessPolicy, now) };
}

/**
 * This process's access decision: catalogue, policy (PAST_DUE_GRACE...) and
 * the rates every function reads the same way (defaults where unset), so all
 * routes decide alike.
 */
export const access = perProcess(() => {
  const config = loadConfig({
    policy: policySection,
    apiKeys: apiKeysSection,
    credentials: credentialsSection.pick({ CREDENTIALS_RATE_LIMIT_PER_MINUTE: true }),
  });
  return accessDecider(catalogue(), config.policy, config);
});
