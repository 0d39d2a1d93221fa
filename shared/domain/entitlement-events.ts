import * as z from 'zod';
import { ACCESS_REASONS, ACCESS_SOURCES, type AccessDecider, type AccessState } from './access';
import { ENTITLEMENT_STATUSES, type EntitlementStatus } from './entitlement';
import { normalisePeriodId } from './periods';

/**
 * `entitlement.changed`, pure: which writes of an entitlement row change what
 * a consumer of the user's access cares about, and the event that says so.
 * Events are derived from the table's change stream (old and new image of
 * every write), never from the code paths that write, so no path can forget
 * to publish; the publisher (shared/use-cases/publish-entitlement-changes.ts)
 * only carries them.
 *
 * Why a row was written: every writer stores `lastChange` ({kind, ref, at})
 * in the same write, with `at` equal to the row's `updatedAt`. A `lastChange`
 * whose `at` is not the row's `updatedAt` was left by an earlier write, so the
 * cause of this one is `unknown` (a writer that forgot to say why still
 * publishes; it just cannot be told apart from a top-up).
 *
 * Consumes are not events: a consume writes only the counters, under the
 * same access (it is conditioned on every field the decision reads), so its
 * write changes nothing a consumer cares about, except when it is the first
 * write of a new allowance period: then the counters reset and that is
 * published with cause `period-reset`. Purchased tokens a consume spends are
 * not published (they would flood); a top-up, refund or admin grant changes
 * them and is.
 */

/** Why a writer wrote a row (stored as `lastChange.kind`). */
export const CHANGE_KINDS = ['stripe', 'reconcile', 'admin', 'top-up', 'refund', 'consume', 'sign-up', 'kofi'] as const;
export type ChangeKind = (typeof CHANGE_KINDS)[number];

/** What a writer stores beside its write: why, and the id of what caused it (Stripe event, idempotency key). */
export interface ChangeCause {
  kind: ChangeKind;
  ref?: string;
}

/** The row attribute that carries the cause. */
export interface RecordedChange extends ChangeCause {
  /** The row's `updatedAt` of the write that stored this. */
  at: string;
}

/** The `lastChange` attribute of a write made at `now` (writers set `updatedAt` to the same instant). */
export function recordedChange(cause: ChangeCause, now: string): RecordedChange {
  return { kind: cause.kind, ...(cause.ref ? { ref: cause.ref } : {}), at: now };
}

/** Causes an event names: a writer's, or what the stream itself tells (deletion, a reset by a consume, unknown). */
export const EVENT_CAUSES = ['stripe', 'reconcile', 'admin', 'top-up', 'refund', 'sign-up', 'kofi', 'period-reset', 'deletion', 'unknown'] as const;

/** What of the access a consumer cares about; compared field by field. */
export const CHANGED_FIELDS = [
  'status',
  'tier',
  'premium',
  'features',
  'limits',
  'allowancePeriod',
  'allowanceReset',
  'purchasedTokens',
  'adminOverride',
  'created',
  'deleted',
] as const;
export type ChangedField = (typeof CHANGED_FIELDS)[number];

export const ENTITLEMENT_CHANGED = 'entitlement.changed';
export const EVENT_SOURCE = 'entitlements';

// Module-level schemas are built by @__PURE__ calls so bundles drop the unused ones (note in shared/config/index.ts).
const accessSnapshotSchema = /* @__PURE__ */ (() =>
  z
    .object({
      status: z.enum(ENTITLEMENT_STATUSES).describe("The stored subscription status (Stripe's, mapped)."),
      tier: z.string().describe('The tier whose capabilities apply now (free when nothing paid applies).'),
      premium: z.boolean(),
      features: z.array(z.string()),
      limits: z.object({
        monthlyTokens: z.number().int().nullable().describe('Monthly token allowance; null = unlimited.'),
        monthlyApiCalls: z.number().int().nullable().describe('Verified API calls per period; null = unlimited.'),
        apiCallsPerWindow: z.number().int().nullable(),
        apiCallWindowMs: z.number().int().nullable(),
        awsCredentialsPerMinute: z.number().int().nullable(),
      }),
      reason: z.enum(ACCESS_REASONS).describe('Why the access is what it is.'),
      source: z.enum(ACCESS_SOURCES),
      allowancePeriod: z.object({
        start: z.string().describe('ISO 8601'),
        end: z.string().describe('ISO 8601: when the allowance resets'),
        anchor: z.enum(['billing', 'calendar']),
      }),
      counterPeriod: z.string().nullable().describe('Start (ISO) of the period the stored token counters belong to; null before the first token write.'),
      purchasedTokens: z.number().int().describe('Purchased and granted tokens left (never reset).'),
      adminOverride: z.enum(['grant', 'revoke']).nullable(),
      graceEndsAt: z.string().nullable().describe('While a past_due grace applies: when it ends.'),
    })
    .describe('Access decided by the one access decision (shared/domain/access.ts) from one image of the row.'))();

export const entitlementChangedSchema = /* @__PURE__ */ (() =>
  z
    .object({
      version: z.literal(1),
      id: z.string().min(1).describe('Deduplicate on this: the same change always carries the same id (the stream record id), across retries.'),
      userId: z.string().min(1),
      occurredAt: z.string().describe('ISO 8601: when DynamoDB recorded the write.'),
      changed: z.array(z.enum(CHANGED_FIELDS)).min(1).describe('What differs between previous and current.'),
      cause: z.object({
        kind: z.enum(EVENT_CAUSES),
        ref: z.string().optional().describe('Stripe event id, idempotency key, Stripe object id or Ko-fi message id, when the writer knew one.'),
      }),
      previous: accessSnapshotSchema.nullable().describe('null: the user had no entitlement row (new user).'),
      current: accessSnapshotSchema.nullable().describe('null: the row was deleted (account deleted).'),
    })
    .describe('detail of an `entitlement.changed` event (source "entitlements").'))();

export type AccessSnapshot = z.infer<typeof accessSnapshotSchema>;
export type EntitlementChanged = z.infer<typeof entitlementChangedSchema>;

/** The fields of a row the derivation reads: the access inputs, the token counters and the cause. */
export interface ChangedRow extends Partial<AccessState> {
  userId: string;
  tokenPeriod?: string;
  tokensPurchased?: number;
  updatedAt?: string;
  lastChange?: RecordedChange;
}

/** One stream record, as the publisher hands it over (images already unmarshalled). */
export interface RowChange {
  /** The stream record's eventID: stable across the stream's retries. */
  id: string;
  kind: 'INSERT' | 'MODIFY' | 'REMOVE';
  occurredAt: Date;
  oldImage?: ChangedRow;
  newImage?: ChangedRow;
}

/** The access of one image, decided at `at`. Both images of a change are decided at the same instant, so the clock moves nothing. */
export function accessSnapshot(row: ChangedRow, decide: AccessDecider, at: Date): AccessSnapshot {
  const status: EntitlementStatus = row.status ?? 'none';
  const access = decide({ ...row, status, tier: row.tier ?? 'free' }, at);
  return {
    status,
    tier: access.tier,
    premium: access.premium,
    features: [...access.features].sort(),
    limits: {
      monthlyTokens: access.monthlyTokens,
      monthlyApiCalls: access.monthlyApiCalls,
      apiCallsPerWindow: access.rateLimits.apiCalls?.limit ?? null,
      apiCallWindowMs: access.rateLimits.apiCalls?.windowMs ?? null,
      awsCredentialsPerMinute: access.rateLimits.awsCredentialsPerMinute,
    },
    reason: access.reason,
    source: access.source,
    allowancePeriod: { start: access.period.start.toISOString(), end: access.period.end.toISOString(), anchor: access.period.anchor },
    counterPeriod: row.tokenPeriod ? normalisePeriodId(row.tokenPeriod) : null,
    purchasedTokens: row.tokensPurchased ?? 0,
    adminOverride: row.premiumOverride === true ? 'grant' : row.premiumOverride === false ? 'revoke' : null,
    graceEndsAt: access.graceEndsAt ?? null,
  };
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/** The writer's cause, when this write recorded one. */
function causeOf(row: ChangedRow | undefined): ChangeCause | undefined {
  const recorded = row?.lastChange;
  if (!recorded || !row?.updatedAt || recorded.at !== row.updatedAt) return undefined;
  return { kind: recorded.kind, ...(recorded.ref ? { ref: recorded.ref } : {}) };
}

function differences(previous: AccessSnapshot, current: AccessSnapshot, consume: boolean): ChangedField[] {
  const changed: ChangedField[] = [];
  const compare: Array<[ChangedField, unknown, unknown]> = [
    ['status', previous.status, current.status],
    ['tier', previous.tier, current.tier],
    ['premium', previous.premium, current.premium],
    ['features', previous.features, current.features],
    ['limits', previous.limits, current.limits],
    ['allowancePeriod', previous.allowancePeriod, current.allowancePeriod],
    ['adminOverride', previous.adminOverride, current.adminOverride],
  ];
  for (const [field, before, after] of compare) if (!same(before, after)) changed.push(field);
  // The first token write of a user starts the counters; only a move from one period to another is a reset.
  if (previous.counterPeriod !== null && previous.counterPeriod !== current.counterPeriod) changed.push('allowanceReset');
  if (!consume && previous.purchasedTokens !== current.purchasedTokens) changed.push('purchasedTokens');
  return changed;
}

/**
 * The event a row change publishes, or undefined when it changed nothing a
 * consumer cares about (a consume, an identical re-sync, a sign-up's empty row).
 */
export function entitlementChangeOf(change: RowChange, decide: AccessDecider): EntitlementChanged | undefined {
  const userId = change.newImage?.userId ?? change.oldImage?.userId;
  if (!userId) return undefined;
  const at = change.occurredAt;
  const base = { version: 1 as const, id: change.id, userId, occurredAt: at.toISOString() };

  if (change.kind === 'REMOVE') {
    const previous = change.oldImage ? accessSnapshot(change.oldImage, decide, at) : null;
    return { ...base, changed: ['deleted'], cause: { kind: 'deletion' }, previous, current: null };
  }
  if (!change.newImage) return undefined;
  const current = accessSnapshot(change.newImage, decide, at);
  const written = causeOf(change.newImage);
  const consume = written?.kind === 'consume';
  const cause: EntitlementChanged['cause'] = !written ? { kind: 'unknown' } : written.kind === 'consume' ? { kind: 'period-reset' } : { ...written, kind: written.kind };

  if (!change.oldImage) {
    // A new row: news only when it grants something a user without a row would not have.
    const nothing = accessSnapshot({ userId }, decide, at);
    const changed = differences(nothing, current, false);
    return changed.length > 0 ? { ...base, changed: ['created', ...changed], cause, previous: null, current } : undefined;
  }
  const previous = accessSnapshot(change.oldImage, decide, at);
  const changed = differences(previous, current, consume);
  return changed.length > 0 ? { ...base, changed, cause, previous, current } : undefined;
}

/** Where the JSON Schema generated from `entitlementChangedSchema` is committed (consumers validate against it). */
export const ENTITLEMENT_CHANGED_SCHEMA_FILE = 'shared/domain/entitlement-changed.schema.json';

/** The detail's JSON Schema (draft 2020-12), generated from the zod schema: one definition, no drift. */
export function entitlementChangedJsonSchema(): Record<string, unknown> {
  return {
    title: ENTITLEMENT_CHANGED,
    ...z.toJSONSchema(entitlementChangedSchema),
  };
}
