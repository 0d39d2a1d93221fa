import type { ApiKeysConfig, CredentialsConfig } from '../config';
import { apiKeysSection, credentialsSection, loadConfig } from '../config';
import { catalogueSection, loadCatalogue } from '../config/catalogue';
import { DEFAULT_ACCESS_POLICY, accessPolicyOf, decideAccess, type AccessDecider, type AccessPolicy } from '../domain/access';
import type { Catalogue } from '../domain/catalogue';
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
  return { policy: accessPolicy, decide: (state, now) => decideAccess(state, catalogue, accessPolicy, now) };
}

/**
 * This process's access decision: the catalogue and the rates every function
 * reads the same way (defaults where unset), so all routes decide alike.
 */
export const access = perProcess(() => {
  const config = loadConfig({
    apiKeys: apiKeysSection,
    credentials: credentialsSection.pick({ CREDENTIALS_RATE_LIMIT_PER_MINUTE: true }),
  });
  return accessDecider(catalogue(), config);
});
