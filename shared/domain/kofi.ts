import { createHash, timingSafeEqual } from 'node:crypto';
import * as z from 'zod';
import { normaliseEmail } from './entitlement';
import type { Catalogue, Plan } from './catalogue-model';

/**
 * Ko-fi as a premium source, pure. Ko-fi POSTs `application/x-www-form-urlencoded`
 * with one field, `data`, holding the payment as JSON (its webhook docs, at
 * ko-fi.com/manage/webhooks). It retries anything but a 200 "a reasonable
 * number of times with the same message_id", so the message id (and the
 * transaction id, which a retry repeats too) is what makes a delivery once.
 *
 * A subscription payment (`is_subscription_payment`, type "Subscription")
 * pays one calendar month from its timestamp; the plan comes from the
 * membership tier's name (`tier_name`) through the operator's rules. Every
 * other type (Donation, Commission, Shop Order, anything new) is recorded and
 * changes no access.
 */

/** Ko-fi's payment types today; other strings are accepted and recorded only (Ko-fi may add types). */
export const KOFI_PAYMENT_TYPES = ['Donation', 'Subscription', 'Commission', 'Shop Order'] as const;

// Module-level schemas are built by @__PURE__ calls so bundles drop the unused ones (note in shared/config/index.ts).
/** Ko-fi sends `null` for what a payment does not have (tier_name, shop_items, shipping). */
const optionalText = /* @__PURE__ */ (() => z.string().nullish())();

/**
 * A field that decides nothing (amount, currency, type...): recorded as Ko-fi
 * sent it, never a reason to refuse a payment (Ko-fi formats amounts with
 * thousands separators, "1,000.00"); a number becomes its text, null empty.
 */
const recordedText = /* @__PURE__ */ (() =>
  z
    .union([z.string(), z.number()])
    .nullish()
    .transform((value) => (value === null || value === undefined ? '' : String(value).trim())))();

/** An ISO 8601 date-time with a zone offset, or without one: Ko-fi's times are UTC, so a zone-less one is read as UTC. */
const ZONE_SUFFIX = /(Z|[+-]\d{2}(:?\d{2})?)$/i;
const paymentTimestamp = /* @__PURE__ */ (() =>
  z
    .string()
    .trim()
    .transform((value) => (ZONE_SUFFIX.test(value) ? value : `${value}Z`))
    .pipe(z.iso.datetime({ offset: true, message: 'must be an ISO 8601 date-time such as "2026-05-01T10:00:00Z"' })))();

/**
 * The fields of `data` the rules read (Ko-fi sends more: shop_items,
 * shipping, url, ...; they are ignored, never refused). Strict only about what
 * a delivery and a grant need: the message id (once), a parseable timestamp
 * (the paid month), and the email of a SUBSCRIPTION payment (whose grant it
 * keys); a donation or shop order without an email is still recorded. The
 * verification token is checked before this schema runs.
 */
export const kofiPaymentSchema = /* @__PURE__ */ (() =>
  z
    .object({
      verification_token: z.string().min(1),
      message_id: z.string().trim().min(1).max(255),
      timestamp: paymentTimestamp,
      type: recordedText,
      is_public: z.boolean().nullish(),
      from_name: optionalText,
      message: optionalText,
      amount: recordedText,
      currency: recordedText,
      // As the supporter typed it on Ko-fi: spaces and capitals are not a reason to lose a payment.
      email: z.string().trim().toLowerCase().pipe(z.email().max(254)).nullish().catch(null),
      is_subscription_payment: z.boolean().nullish().transform((value) => value === true),
      is_first_subscription_payment: z.boolean().nullish().transform((value) => value === true),
      // A retry repeats it; without one the message id alone makes the delivery once.
      kofi_transaction_id: z.string().trim().max(255).nullish().transform((value) => value || null),
      tier_name: optionalText,
      url: optionalText,
    })
    .superRefine((payment, ctx) => {
      if (isSubscriptionPayment(payment) && !payment.email) {
        ctx.addIssue({ code: 'custom', path: ['email'], message: 'a subscription payment needs the supporter\'s email (its grant is keyed by it)' });
      }
    }))();
export type KofiPayment = z.infer<typeof kofiPaymentSchema>;

/**
 * The operator's Ko-fi rules: which plan a membership tier grants (by Ko-fi's
 * tier name, exactly as set on ko-fi.com), the plan of a tier not listed (or
 * of a subscription without a tier), and the days of grace after a paid month
 * (Ko-fi charges on the anniversary; its webhook can come a little late).
 * The catalogue file's `sources.kofi` feeds it (today's defaults below).
 */
export interface KofiRules {
  tiers: Readonly<Record<string, string>>;
  defaultPlan: string;
  graceDays: number;
}

/**
 * The plan a subscription gets when its tier is not listed or it has none
 * (Ko-fi sends "make this monthly" donations as type Subscription with
 * tier_name null): the LOWEST paid plan that is premium, never a richer one
 * nobody paid for. Lowest by list price among purchasable plans (rank order
 * breaks a tie).
 */
export function lowestPremiumPlan(plans: readonly Plan[]): string {
  let lowest: Plan | undefined;
  for (const plan of plans) {
    if (!plan.purchasable || !plan.price || !plan.features.premium) continue;
    if (!lowest || plan.price.amount < (lowest.price as NonNullable<Plan['price']>).amount) lowest = plan;
  }
  if (!lowest) throw new Error('the catalogue has no purchasable premium plan to default Ko-fi subscriptions to');
  return lowest.name;
}

/** The rules of a catalogue file without `sources.kofi`: no tier listed, the lowest premium plan, 3 days of grace. */
export function defaultKofiRules(catalogue: Pick<Catalogue, 'plans'>): KofiRules {
  return { tiers: {}, defaultPlan: lowestPremiumPlan(catalogue.plans), graceDays: 3 };
}

/** The rules of the default catalogue (entitlements.config.json: `basic` is its lowest premium plan). */
export const DEFAULT_KOFI_RULES: KofiRules = { tiers: {}, defaultPlan: 'basic', graceDays: 3 };

/**
 * The token an undeployed or half-deployed stack holds: empty, or the
 * placeholder earlier versions of the stack created (public, in this repo).
 * Such a token is "not configured": it must never match a delivery.
 */
export const KOFI_TOKEN_PLACEHOLDERS: readonly string[] = ['REPLACE_ME'];

export function isUnsetVerificationToken(token: string | undefined): boolean {
  const value = token?.trim() ?? '';
  return value.length === 0 || KOFI_TOKEN_PLACEHOLDERS.includes(value);
}

/**
 * Whether the token sent matches ours, in constant time whatever the lengths:
 * both are hashed first, so the comparison never short-cuts on a length or a
 * first differing byte. An unset expected token (empty, the old placeholder) matches nothing.
 */
export function verificationTokenMatches(sent: unknown, expected: string): boolean {
  if (typeof sent !== 'string' || isUnsetVerificationToken(expected)) return false;
  const a = createHash('sha256').update(sent, 'utf8').digest();
  const b = createHash('sha256').update(expected, 'utf8').digest();
  return timingSafeEqual(a, b);
}

/** One calendar month after `from` in UTC; a day the next month lacks becomes its last day (Jan 31 -> Feb 28/29). */
export function addCalendarMonth(from: Date): Date {
  const year = from.getUTCFullYear();
  const month = from.getUTCMonth() + 1;
  const lastDay = new Date(Date.UTC(year, month + 1, 0)).getUTCDate();
  return new Date(
    Date.UTC(year, month, Math.min(from.getUTCDate(), lastDay), from.getUTCHours(), from.getUTCMinutes(), from.getUTCSeconds(), from.getUTCMilliseconds()),
  );
}

const DAY_MS = 86_400_000;

/** What one subscription payment grants: a plan, through the paid month plus the grace. */
export interface KofiGrant {
  plan: string;
  /** ISO 8601 (toISOString, so stored values compare as text): access ends here. */
  paidThrough: string;
  /** The payment that set this (its message id). */
  paymentId: string;
  /**
   * The account the grant is bound to (set once, by the first attach: sign-up,
   * an email change to the address, or a payment finding the address's
   * account). Renewals go to this account whatever its email is now; an
   * owned grant never makes the bare address premium, nor another account.
   */
  ownerUserId?: string;
}

export function isSubscriptionPayment(payment: { type: string; is_subscription_payment: boolean }): boolean {
  return payment.is_subscription_payment || payment.type === 'Subscription';
}

/** Whether the rules list this tier name (own entries only: `constructor` or `toString` are not tiers). */
export function isKnownTier(rules: KofiRules, tierName: string | null | undefined): boolean {
  const name = tierName?.trim();
  return !!name && Object.hasOwn(rules.tiers, name) && typeof rules.tiers[name] === 'string';
}

/** The plan of a membership tier: the rules' entry for its name, else the default (also without a tier). */
export function planForTier(rules: KofiRules, tierName: string | null | undefined): string {
  return isKnownTier(rules, tierName) ? (rules.tiers[(tierName as string).trim()] as string) : rules.defaultPlan;
}

/** The grant of a subscription payment; undefined for every other payment. */
export function grantOf(payment: KofiPayment, rules: KofiRules): KofiGrant | undefined {
  if (!isSubscriptionPayment(payment)) return undefined;
  const paidAt = new Date(payment.timestamp);
  const through = new Date(addCalendarMonth(paidAt).getTime() + rules.graceDays * DAY_MS);
  return { plan: planForTier(rules, payment.tier_name), paidThrough: through.toISOString(), paymentId: payment.message_id };
}

/**
 * The auditable record of a payment (every type): what was paid, when, for
 * which tier, and what it granted. Not the supporter's message or name: the
 * record is about money and access, and the less personal data it keeps the better.
 */
export interface KofiPaymentRecord {
  messageId: string;
  transactionId: string;
  type: string;
  amount: string;
  currency: string;
  paidAt: string;
  tierName: string | null;
  subscription: boolean;
  firstSubscriptionPayment: boolean;
  /** What it granted (subscription payments). */
  grant: KofiGrant | null;
  receivedAt: string;
}

export function paymentRecordOf(payment: KofiPayment, grant: KofiGrant | undefined, receivedAt: Date): KofiPaymentRecord {
  return {
    messageId: payment.message_id,
    transactionId: payment.kofi_transaction_id ?? '',
    type: payment.type,
    amount: payment.amount,
    currency: payment.currency,
    paidAt: new Date(payment.timestamp).toISOString(),
    tierName: payment.tier_name?.trim() || null,
    subscription: isSubscriptionPayment(payment),
    firstSubscriptionPayment: payment.is_first_subscription_payment,
    grant: grant ?? null,
    receivedAt: receivedAt.toISOString(),
  };
}

/** The supporter's address as every lookup uses it; undefined when Ko-fi sent none (a donation or shop order may not have one). */
export function supporterEmail(payment: Pick<KofiPayment, 'email'>): string | undefined {
  return payment.email ? normaliseEmail(payment.email) : undefined;
}

/** The ids that make a delivery once: a retry repeats the message id, a re-sent payment its transaction id. */
export function deliveryIds(payment: Pick<KofiPayment, 'message_id' | 'kofi_transaction_id'>): string[] {
  return payment.kofi_transaction_id ? [`message:${payment.message_id}`, `transaction:${payment.kofi_transaction_id}`] : [`message:${payment.message_id}`];
}

/**
 * Parses the `data` field: `{ok: true, payment}`, or why it is not a payment
 * (`field` names the first field at fault). The token is read from the raw
 * JSON first (`token`), so the caller checks it before saying anything about the rest.
 */
export type ParsedKofiData =
  | { ok: true; token: string; payment: KofiPayment }
  | { ok: false; token: unknown; field: string; message: string };

export function parseKofiData(data: string): ParsedKofiData {
  let json: unknown;
  try {
    json = JSON.parse(data);
  } catch {
    return { ok: false, token: undefined, field: 'data', message: 'data: not JSON' };
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return { ok: false, token: undefined, field: 'data', message: 'data: not a JSON object' };
  const token = (json as { verification_token?: unknown }).verification_token;
  const result = kofiPaymentSchema.safeParse(json);
  if (!result.success) {
    const issue = result.error.issues[0];
    const field = `data.${issue?.path.join('.') || '(root)'}`;
    return { ok: false, token, field, message: `${field}: ${issue?.message ?? 'invalid'}` };
  }
  return { ok: true, token: result.data.verification_token, payment: result.data };
}
