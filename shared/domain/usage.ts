import type { AllowancePeriod } from './periods';
import { expiresAfter, monthOf } from './periods';
import { LEDGER_RETENTION_DAYS } from './token-ledger';

/**
 * Usage metering for end-user API keys and the usage log of credential
 * grants. Both live in the ledger table, under the user's partition (so
 * account deletion purges them with the ledger):
 * - `usage#api-calls#<period id>`: the allowance period's verified-call
 *   counter (the access decision's period: the Stripe billing period or the
 *   calendar month), one atomic ADD per counted call. A counter row never
 *   expires before the ledger's own retention, so periods can be billed and
 *   disputed.
 * - `<ISO time>#0#aws-credentials#<random>`: one entry per credential grant.
 */
export type UsageKind = 'api-calls';

export function usageCounterId(kind: UsageKind, period: string): string {
  return `usage#${kind}#${period}`;
}

export interface ApiUsage {
  used: number;
  /** null = unlimited. */
  limit: number | null;
  resetsAt: string;
}

/** Calls this period, the plan's limit and when the count resets (the period's end). */
export function describeApiUsage(used: number, limit: number | null, period: AllowancePeriod): ApiUsage {
  return { used, limit, resetsAt: period.end.toISOString() };
}

/** Expiry (epoch seconds) of usage rows of `period`: the ledger's retention after the period ends. */
export function usageExpiresAt(period: AllowancePeriod): number {
  return expiresAfter(period.end, LEDGER_RETENTION_DAYS);
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
    period: monthOf(now),
    at,
    expiresAt: expiresAfter(now, LEDGER_RETENTION_DAYS),
  };
}
