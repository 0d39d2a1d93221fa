/** Prices, their legacy `plan` twin, and products. */
import type { StripeState } from '../state';
import type { Json } from '../state/records';

export function renderPrice(state: StripeState, id: string): Json {
  const p = state.price(id);
  return {
    id: p.id,
    object: 'price',
    active: p.active,
    billing_scheme: 'per_unit',
    created: p.created,
    currency: 'usd',
    custom_unit_amount: null,
    livemode: false,
    lookup_key: p.lookupKey || null,
    metadata: { ...p.metadata },
    nickname: p.nickname || null,
    product: p.product,
    recurring: p.recurring
      ? { interval: p.recurring.interval, interval_count: p.recurring.intervalCount, meter: null, trial_period_days: null, usage_type: 'licensed' }
      : null,
    tax_behavior: 'unspecified',
    tiers_mode: null,
    transform_quantity: null,
    type: p.recurring ? 'recurring' : 'one_time',
    unit_amount: p.unitAmount,
    unit_amount_decimal: String(p.unitAmount),
  };
}

/** The legacy `plan` view of a recurring price, still present on subscription items. */
export function renderPlan(state: StripeState, id: string): Json | null {
  const p = state.price(id);
  if (!p.recurring) return null;
  return {
    id: p.id,
    object: 'plan',
    active: p.active,
    amount: p.unitAmount,
    amount_decimal: String(p.unitAmount),
    billing_scheme: 'per_unit',
    created: p.created,
    currency: 'usd',
    interval: p.recurring.interval,
    interval_count: p.recurring.intervalCount,
    livemode: false,
    metadata: { ...p.metadata },
    meter: null,
    nickname: p.nickname || null,
    product: p.product,
    tiers_mode: null,
    transform_usage: null,
    trial_period_days: null,
    usage_type: 'licensed',
  };
}

export function renderProduct(state: StripeState, id: string): Json {
  const p = state.product(id);
  return {
    id: p.id,
    object: 'product',
    active: p.active,
    created: p.created,
    default_price: p.defaultPrice || null,
    description: p.description || null,
    images: [],
    livemode: false,
    marketing_features: [],
    metadata: { ...p.metadata },
    name: p.name,
    package_dimensions: null,
    shippable: null,
    statement_descriptor: null,
    tax_code: null,
    tax_details: null,
    type: 'service',
    unit_label: null,
    updated: p.created,
    url: null,
  };
}
