import type { ApiKeysConfig, CredentialsConfig } from '../config';
import { apiKeysSection, credentialsRateSection, loadConfig } from '../config';
import { catalogueSection, loadCatalogue } from '../config/catalogue';
import { DEFAULT_ACCESS_POLICY, accessPolicyOf, decideAccess, type Access, type AccessDecider, type AccessPolicy, type AccessState } from '../domain/access';
import type { Catalogue } from '../domain/catalogue-model';
import { logger } from '../observability/logger';
import { countAnomaly } from '../observability/metrics';
import { perProcess } from './process';

/**
 * The catalogue of this deployment, read once at cold start: the file the
 * bundle carries (validated at synth), with the price ids of
 * CATALOGUE_ENVIRONMENT.
 */
export const catalogue = perProcess((): Catalogue => loadCatalogue(loadConfig({ catalogue: catalogueSection }).catalogue.CATALOGUE_ENVIRONMENT));

/**
 * The one access decision, bound to a catalogue (plans, past_due grace, the
 * admin grant's plan) and the deployment's rates. Scripts and tests that hold
 * their own catalogue build it here too.
 */
export function accessDecider(
  catalogue: Catalogue,
  rates: { apiKeys?: ApiKeysConfig; credentials?: Pick<CredentialsConfig, 'CREDENTIALS_RATE_LIMIT_PER_MINUTE'> } = {},
): { policy: AccessPolicy; decide: AccessDecider } {
  const defaults = DEFAULT_ACCESS_POLICY.rates;
  const accessPolicy = accessPolicyOf(catalogue, {
    apiCallsPerWindow: rates.apiKeys?.API_KEY_RATE_LIMIT ?? defaults.apiCallsPerWindow,
    apiCallWindowMs: rates.apiKeys?.API_KEY_RATE_WINDOW_MS ?? defaults.apiCallWindowMs,
    awsCredentialsPerMinute: rates.credentials?.CREDENTIALS_RATE_LIMIT_PER_MINUTE ?? defaults.awsCredentialsPerMinute,
  });
  return { policy: accessPolicy, decide: (state, now) => reportUnknownPlans(decideAccess(state, catalogue, accessPolicy, now), state) };
}

/**
 * A stored plan the catalogue lost reads as the default plan: a paying user
 * silently downgraded. Loud instead: an error naming the plan (and the user
 * id, never an email) and the UnknownStoredPlan anomaly, on every decision
 * that meets it, until the old name is back as an alias.
 */
function reportUnknownPlans(access: Access, state: AccessState | undefined): Access {
  if (access.unknownPlans) {
    const userId = (state as { userId?: unknown } | undefined)?.userId;
    logger.error('stored plan is not in the catalogue (renamed or removed? keep the old name as an alias); it reads as the default plan', {
      unknownPlans: access.unknownPlans,
      decidedTier: access.tier,
      ...(typeof userId === 'string' ? { userId } : {}),
    });
    countAnomaly('UnknownStoredPlan');
  }
  return access;
}

/**
 * This process's access decision: the catalogue and the rates every function
 * reads the same way (defaults where unset), so all routes decide alike.
 */
export const access = perProcess(() => {
  const config = loadConfig({
    apiKeys: apiKeysSection,
    credentials: credentialsRateSection,
  });
  return accessDecider(catalogue(), config);
});
