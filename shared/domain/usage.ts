import { LEDGER_RETENTION_DAYS, periodEnd, tokenPeriodOf } from './tokens';
import { findTier, type Tier } from './tiers';

/**
 * Usage metering for end-user API keys and the usage log of credential
 * grants. Both live in the ledger table, under the user's partition (so
 * account deletion purges them with the ledger):
 * - `usage#api-calls#<YYYY-MM>`: the month's verified-call counter, one
 *   atomic ADD per counted call. A counter row never expires before the
 *   ledger's own retention, so months can be billed and disputed.
 * - `<ISO time>#0#aws-credentials#<random>`: one entry per credential grant.
 */
const DAY_SECONDS = 86_400;

export type UsageKind = 'api-calls';

export function usageCounterId(kind: UsageKind, period: string): string {
  return `usage#${kind}#${period}`;
}

/** Monthly API calls of a tier; null = unlimited, 0 = none (free tier or unknown). */
export function monthlyApiCallLimit(catalogue: readonly Tier[], tierName: string | undefined): number | null {
  const tier = tierName ? findTier(catalogue, tierName) : undefined;
  return tier ? tier.monthlyApiCalls : 0;
}

export interface ApiUsage {
  used: number;
  /** null = unlimited. */
  limit: number | null;
  resetsAt: string;
}

/** Calls this month, the tier's limit and when the count resets (00:00 UTC on the 1st). */
export function describeApiUsage(used: number, limit: number | null, now: Date): ApiUsage {
  return { used, limit, resetsAt: periodEnd(tokenPeriodOf(now)).toISOString() };
}

/** Seconds until the monthly counter resets: the Retry-After of a monthly 429. */
export function secondsUntilReset(now: Date): number {
  return Math.max(1, Math.ceil((periodEnd(tokenPeriodOf(now)).getTime() - now.getTime()) / 1000));
}

/** Expiry (epoch seconds) of usage rows written at `now`: the ledger's retention after the month ends. */
export function usageExpiresAt(now: Date): number {
  return Math.floor(periodEnd(tokenPeriodOf(now)).getTime() / 1000) + LEDGER_RETENTION_DAYS * DAY_SECONDS;
}

/** A credential grant as written to the usage log: never a secret or session token. */
export interface CredentialGrantEntry {
  userId: string;
  entryId: string;
  kind: 'aws-credentials';
  period: string;
  roleSessionName: string;
  durationSeconds: number;
  /** The temporary access key id (not a secret): lets CloudTrail events be matched to the grant. */
  accessKeyId: string;
  credentialsExpireAt: string;
  actions: string[];
  at: string;
  expiresAt: number;
}

export function credentialGrantEntry(
  fields: Pick<CredentialGrantEntry, 'userId' | 'roleSessionName' | 'durationSeconds' | 'accessKeyId' | 'credentialsExpireAt' | 'actions'>,
  now: Date,
  randomSuffix: string,
): CredentialGrantEntry {
  const at = now.toISOString();
  return {
    ...fields,
    entryId: `${at}#0#aws-credentials#${randomSuffix}`,
    kind: 'aws-credentials',
    period: tokenPeriodOf(now),
    at,
    expiresAt: Math.floor(now.getTime() / 1000) + LEDGER_RETENTION_DAYS * DAY_SECONDS,
  };
}

/**
 * The monthly API call limit that applies to an entitlement view: the tier's
 * while the plan gives API access (paid and active, or granted), else 0.
 */
export function apiCallLimitFor(view: { tier: string; features: readonly string[] }, catalogue: readonly Tier[]): number | null {
  return view.features.includes('api-access') ? monthlyApiCallLimit(catalogue, view.tier) : 0;
}
