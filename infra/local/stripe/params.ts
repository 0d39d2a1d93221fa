import { invalidParam, missingParam, unknownParam } from './errors';
import { isFormObject, type FormObject, type FormValue } from './form';

/**
 * Parameter checks the real API makes, so a typo or a parameter this API
 * version removed fails locally the way it would fail in production
 * ("Received unknown parameter: ..."). The lists are every top-level
 * parameter stripe-node v23 (API 2026-10-28) types for each operation; the
 * emulator acts on a subset and accepts the rest without effect.
 */
const PAGINATION = ['limit', 'starting_after', 'ending_before'];

export const KNOWN_PARAMS = {
  retrieve: ['expand'],
  customerCreate: [
    'address', 'balance', 'business_name', 'cash_balance', 'description', 'email', 'expand', 'individual_name', 'invoice_prefix',
    'invoice_settings', 'metadata', 'name', 'next_invoice_sequence', 'payment_method', 'phone', 'preferred_locales', 'shipping',
    'source', 'tax', 'tax_exempt', 'tax_id_data', 'test_clock', 'validate',
  ],
  customerUpdate: [
    'address', 'balance', 'business_name', 'cash_balance', 'default_source', 'description', 'email', 'expand', 'individual_name',
    'invoice_prefix', 'invoice_settings', 'metadata', 'name', 'next_invoice_sequence', 'phone', 'preferred_locales', 'shipping',
    'source', 'tax', 'tax_exempt', 'validate',
  ],
  customerList: ['created', 'email', 'expand', 'test_clock', ...PAGINATION],
  customerSearch: ['query', 'limit', 'page', 'expand'],
  customerDelete: [],
  subscriptionCreate: [
    'add_invoice_items', 'application_fee_percent', 'automatic_tax', 'backdate_start_date', 'billing_cycle_anchor',
    'billing_cycle_anchor_config', 'billing_mode', 'billing_schedules', 'billing_thresholds', 'cancel_at', 'cancel_at_period_end',
    'collection_method', 'currency', 'customer', 'customer_account', 'days_until_due', 'default_payment_method', 'default_source',
    'default_tax_rates', 'description', 'discounts', 'expand', 'invoice_settings', 'items', 'metadata', 'off_session', 'on_behalf_of',
    'payment_behavior', 'payment_settings', 'pending_invoice_item_interval', 'proration_behavior', 'transfer_data', 'trial_end',
    'trial_from_plan', 'trial_period_days', 'trial_settings',
  ],
  subscriptionUpdate: [
    'add_invoice_items', 'application_fee_percent', 'automatic_tax', 'billing_cycle_anchor', 'billing_schedules', 'billing_thresholds',
    'cancel_at', 'cancel_at_period_end', 'cancellation_details', 'collection_method', 'days_until_due', 'default_payment_method',
    'default_source', 'default_tax_rates', 'description', 'discounts', 'expand', 'invoice_settings', 'items', 'metadata', 'off_session',
    'on_behalf_of', 'pause_collection', 'payment_behavior', 'payment_settings', 'pending_invoice_item_interval', 'proration_behavior',
    'proration_date', 'transfer_data', 'trial_end', 'trial_from_plan', 'trial_settings',
  ],
  subscriptionList: [
    'automatic_tax', 'collection_method', 'created', 'current_period_end', 'current_period_start', 'customer', 'customer_account',
    'expand', 'plan', 'price', 'status', 'test_clock', ...PAGINATION,
  ],
  subscriptionCancel: ['cancellation_details', 'expand', 'invoice_now', 'prorate'],
  checkoutCreate: [
    'adaptive_pricing', 'after_expiration', 'allow_promotion_codes', 'allowed_payment_method_types', 'automatic_tax',
    'billing_address_collection', 'branding_settings', 'cancel_url', 'client_reference_id', 'consent_collection', 'currency',
    'custom_fields', 'custom_text', 'customer', 'customer_account', 'customer_creation', 'customer_email', 'customer_update',
    'discounts', 'excluded_payment_method_types', 'expand', 'expires_at', 'integration_identifier', 'invoice_creation', 'line_items',
    'locale', 'managed_payments', 'metadata', 'mode', 'name_collection', 'optional_items', 'origin_context', 'payment_intent_data',
    'payment_method_collection', 'payment_method_configuration', 'payment_method_data', 'payment_method_options', 'permissions',
    'phone_number_collection', 'redirect_on_completion', 'return_url', 'saved_payment_method_options', 'setup_intent_data',
    'shipping_address_collection', 'shipping_options', 'submit_type', 'subscription_data', 'success_url', 'tax_id_collection',
    'ui_mode', 'wallet_options',
  ],
  checkoutList: [
    'created', 'customer', 'customer_account', 'customer_details', 'expand', 'payment_intent', 'payment_link', 'status', 'subscription',
    ...PAGINATION,
  ],
  checkoutLineItems: ['expand', ...PAGINATION],
  portalCreate: ['after_expiration', 'configuration', 'customer', 'customer_account', 'expand', 'flow_data', 'locale', 'on_behalf_of', 'return_url'],
  priceList: ['active', 'created', 'currency', 'expand', 'lookup_keys', 'product', 'recurring', 'type', ...PAGINATION],
  priceCreate: [
    'active', 'billing_scheme', 'currency', 'currency_options', 'custom_unit_amount', 'expand', 'lookup_key', 'metadata', 'nickname',
    'product', 'product_data', 'recurring', 'tax_behavior', 'tiers', 'tiers_mode', 'transfer_lookup_key', 'transform_quantity',
    'unit_amount', 'unit_amount_decimal',
  ],
  priceUpdate: ['active', 'currency_options', 'expand', 'lookup_key', 'metadata', 'nickname', 'tax_behavior', 'transfer_lookup_key'],
  productCreate: [
    'active', 'default_price_data', 'description', 'expand', 'id', 'images', 'marketing_features', 'metadata', 'name',
    'package_dimensions', 'shippable', 'statement_descriptor', 'tax_code', 'tax_details', 'type', 'unit_label', 'url',
  ],
  productList: ['active', 'created', 'expand', 'ids', 'shippable', 'url', ...PAGINATION],
  invoiceList: ['collection_method', 'created', 'customer', 'customer_account', 'due_date', 'expand', 'status', 'subscription', ...PAGINATION],
  eventList: ['created', 'delivery_success', 'expand', 'type', 'types', ...PAGINATION],
  chargeList: ['created', 'customer', 'expand', 'payment_intent', 'transfer_group', ...PAGINATION],
  refundList: ['charge', 'created', 'expand', 'payment_intent', ...PAGINATION],
  refundCreate: [
    'amount', 'charge', 'currency', 'customer', 'expand', 'instructions_email', 'metadata', 'origin', 'payment_intent', 'reason',
    'refund_application_fee', 'reverse_transfer',
  ],
  disputeList: ['charge', 'created', 'expand', 'payment_intent', ...PAGINATION],
} as const satisfies Record<string, readonly string[]>;

export type ParamSet = keyof typeof KNOWN_PARAMS;

export function assertKnownParams(params: FormObject, set: ParamSet): void {
  const known = KNOWN_PARAMS[set] as readonly string[];
  for (const key of Object.keys(params)) {
    if (!known.includes(key)) throw unknownParam(key);
  }
}

/** Typed readers over a parsed form: each says which param is wrong, as Stripe's messages do. */
export function str(params: FormObject, name: string, label = name): string | undefined {
  const value = params[name];
  if (value === undefined || value === '') return undefined;
  if (typeof value !== 'string') throw invalidParam(`Invalid string: ${label}`, label);
  return value;
}

export function requiredStr(params: FormObject, name: string, label = name): string {
  const value = str(params, name, label);
  if (value === undefined) throw missingParam(label);
  return value;
}

export function int(params: FormObject, name: string, { min, max, label = name }: { min?: number; max?: number; label?: string } = {}): number | undefined {
  const raw = str(params, name, label);
  if (raw === undefined) return undefined;
  if (!/^-?\d+$/.test(raw)) throw invalidParam(`Invalid integer: ${raw}`, label);
  const value = Number(raw);
  if ((min !== undefined && value < min) || (max !== undefined && value > max)) {
    throw invalidParam(`Invalid ${label}: must be between ${min ?? '-inf'} and ${max ?? 'inf'}`, label);
  }
  return value;
}

export function bool(params: FormObject, name: string, label = name): boolean | undefined {
  const raw = str(params, name, label);
  if (raw === undefined) return undefined;
  if (raw === 'true') return true;
  if (raw === 'false') return false;
  throw invalidParam(`Invalid boolean: ${raw}`, label);
}

export function oneOf<T extends string>(params: FormObject, name: string, allowed: readonly T[], label = name): T | undefined {
  const raw = str(params, name, label);
  if (raw === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(raw)) {
    throw invalidParam(`Invalid ${label}: must be one of ${allowed.join(', ')}`, label);
  }
  return raw as T;
}

/** Stripe's `created` filter on lists: an exact timestamp or `created[gt|gte|lt|lte]`, as a predicate over epoch seconds. */
export function createdRange(params: FormObject): (created: number) => boolean {
  const value = params.created;
  if (value === undefined || value === '') return () => true;
  if (typeof value === 'string') {
    const exact = int(params, 'created');
    return (created) => created === exact;
  }
  const range = obj(params, 'created') as FormObject;
  for (const key of Object.keys(range)) if (!['gt', 'gte', 'lt', 'lte'].includes(key)) throw unknownParam(`created[${key}]`);
  const bound = (op: string) => int(range, op, { label: `created[${op}]` });
  const [gt, gte, lt, lte] = [bound('gt'), bound('gte'), bound('lt'), bound('lte')];
  return (created) =>
    (gt === undefined || created > gt) && (gte === undefined || created >= gte) && (lt === undefined || created < lt) && (lte === undefined || created <= lte);
}

export function obj(params: FormObject, name: string, label = name): FormObject | undefined {
  const value = params[name];
  if (value === undefined || value === '') return undefined;
  if (!isFormObject(value)) throw invalidParam(`Invalid object: ${label}`, label);
  return value;
}

export function list(params: FormObject, name: string, label = name): FormValue[] | undefined {
  const value = params[name];
  if (value === undefined || value === '') return undefined;
  if (!Array.isArray(value)) throw invalidParam(`Invalid array: ${label}`, label);
  return value;
}

export function stringList(params: FormObject, name: string, label = name): string[] | undefined {
  const values = list(params, name, label);
  if (!values) return undefined;
  return values.map((v, i) => {
    if (typeof v !== 'string') throw invalidParam(`Invalid string: ${label}[${i}]`, `${label}[${i}]`);
    return v;
  });
}

/** `expand[]` from a request. */
export const expandPaths = (params: FormObject): string[] => stringList(params, 'expand') ?? [];

/**
 * Applies a `metadata` parameter the way Stripe does: keys merge into what is
 * there, an empty value removes its key, and `metadata=""` clears everything.
 * Limits: 50 keys, 40-character keys, 500-character values. `label` names the
 * parameter in errors (`subscription_data[metadata]`).
 */
export function applyMetadata(current: Record<string, string>, raw: FormValue | undefined, label = 'metadata'): Record<string, string> {
  if (raw === undefined) return current;
  if (raw === '') return {};
  if (!isFormObject(raw)) throw invalidParam(`Invalid object: ${label}`, label);
  const next = { ...current };
  for (const [key, value] of Object.entries(raw)) {
    if (typeof value !== 'string') throw invalidParam(`Invalid string: ${label}[${key}]`, `${label}[${key}]`);
    if (key.length > 40) throw invalidParam(`Metadata keys can have up to 40 characters: ${key}`, `${label}[${key}]`);
    if (value.length > 500) throw invalidParam(`Metadata values can have up to 500 characters: ${key}`, `${label}[${key}]`);
    if (value === '') delete next[key];
    else next[key] = value;
  }
  if (Object.keys(next).length > 50) throw invalidParam('Metadata can have up to 50 keys.', label);
  return next;
}

export function validEmail(value: string | undefined, param = 'email'): string | undefined {
  if (value !== undefined && (!/^[^\s@]+@[^\s@]+$/.test(value) || value.length > 512)) {
    throw invalidParam(`Invalid email address: ${value}`, param, 'email_invalid');
  }
  return value;
}

export function nullable(params: FormObject, name: string): string | null | undefined {
  if (!(name in params)) return undefined;
  return str(params, name) ?? null;
}

export function trialEndParam(params: FormObject): number | 'now' | undefined {
  const raw = str(params, 'trial_end');
  if (raw === undefined) return undefined;
  if (raw === 'now') return 'now';
  if (!/^\d+$/.test(raw)) throw invalidParam(`Invalid timestamp: ${raw}`, 'trial_end');
  return Number(raw);
}
