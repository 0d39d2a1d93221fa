/**
 * The emulated `/v1` endpoints: real paths, parameters checked the way Stripe
 * checks them, objects rendered by state.ts, `expand[]` applied last.
 */
import type { StripeEvent } from './delivery';
import { invalidParam, resourceMissing } from './errors';
import { isFormObject, type FormObject, type FormValue } from './form';
import { newId } from './ids';
import {
  applyMetadata,
  assertKnownParams,
  bool,
  createdRange,
  expandPaths,
  int,
  list,
  obj,
  oneOf,
  requiredStr,
  str,
  stringList,
  trialEndParam,
  validEmail,
  nullable,
  type ParamSet,
} from './params';
import type { ItemChange, Json, StripeState } from './state';
import { applyExpand } from './render/expand';
import { paginate } from './render/list';
import { renderCharge, renderCheckoutLineItems, renderCheckoutSession, renderCustomer, renderDispute, renderInvoice, renderPaymentIntent, renderPortalSession, renderPrice, renderProduct, renderRefund, renderSubscription } from './render';

export interface EventStore {
  /** Newest first. */
  list(): StripeEvent[];
  /** Whether the webhook endpoint got the event (Stripe's `delivery_success`). */
  delivered(eventId: string): boolean;
}

export interface ApiRequest {
  params: FormObject;
  path: Record<string, string>;
}

type Handler = (state: StripeState, req: ApiRequest, events: EventStore) => Json;

interface Route {
  method: string;
  template: string;
  segments: string[];
  handler: Handler;
}

const ROUTES: Route[] = [];

function route(method: string, template: string, paramSet: ParamSet, handler: Handler): void {
  ROUTES.push({
    method,
    template,
    segments: template.split('/').filter(Boolean),
    handler: (state, req, events) => {
      assertKnownParams(req.params, paramSet);
      return applyExpand(handler(state, req, events), expandPaths(req.params), state);
    },
  });
}

export interface MatchedRoute {
  template: string;
  path: Record<string, string>;
  handler: Handler;
}

export function matchApiRoute(method: string, pathname: string): MatchedRoute | undefined {
  const parts = pathname.split('/').filter(Boolean);
  for (const r of ROUTES) {
    if (r.method !== method || r.segments.length !== parts.length) continue;
    const path: Record<string, string> = {};
    const ok = r.segments.every((seg, i) => {
      const part = parts[i] as string;
      if (seg.startsWith(':')) {
        try {
          path[seg.slice(1)] = decodeURIComponent(part);
        } catch {
          return false;
        }
        return true;
      }
      return seg === part;
    });
    if (ok) return { template: r.template, path, handler: r.handler };
  }
  return undefined;
}

/** `GET /v1/customers/cus_123` -> `GET /v1/customers/:id`, for call counts of unrouted requests too. */
export function pathTemplate(pathname: string): string {
  return pathname
    .split('/')
    .map((seg) => (/^[a-z]+_(test_)?[A-Za-z0-9]{6,}$/.test(seg) && !/^(line_items|billing_portal)$/.test(seg) ? ':id' : seg))
    .join('/');
}

// ------------------------------------------------------------------ helpers

/** `price_data` on Checkout line items and subscription items: an ad-hoc price. */
function adHocPrice(state: StripeState, raw: FormValue | undefined, label: string, { recurringAllowed }: { recurringAllowed: boolean }): string | undefined {
  if (raw === undefined) return undefined;
  if (!isFormObject(raw)) throw invalidParam(`Invalid object: ${label}`, label);
  const currency = requiredStr(raw, 'currency', `${label}[currency]`);
  if (currency.toLowerCase() !== 'usd') throw invalidParam('The local Stripe emulator only bills in usd.', `${label}[currency]`);
  const unitAmount = int(raw, 'unit_amount', { min: 0, label: `${label}[unit_amount]` });
  if (unitAmount === undefined) throw invalidParam(`Missing required param: ${label}[unit_amount].`, `${label}[unit_amount]`, 'parameter_missing');
  const productData = obj(raw, 'product_data', `${label}[product_data]`);
  const product = str(raw, 'product', `${label}[product]`);
  if (!product && !productData) throw invalidParam(`Missing required param: ${label}[product_data].`, `${label}[product_data]`, 'parameter_missing');
  const recurringRaw = obj(raw, 'recurring', `${label}[recurring]`);
  if (recurringRaw && !recurringAllowed) throw invalidParam('Recurring prices are not allowed here.', `${label}[recurring]`);
  const interval = recurringRaw ? oneOf(recurringRaw, 'interval', ['month'] as const, `${label}[recurring][interval]`) : undefined;
  if (recurringRaw && !interval) throw invalidParam(`Missing required param: ${label}[recurring][interval].`, `${label}[recurring][interval]`, 'parameter_missing');
  return state.createAdHocPrice({
    currency: 'usd',
    unitAmount,
    product: product ?? undefined,
    productName: productData ? requiredStr(productData, 'name', `${label}[product_data][name]`) : undefined,
    metadata: productData ? applyMetadata({}, productData.metadata, `${label}[product_data][metadata]`) : undefined,
    recurring: interval ? { interval, intervalCount: int(recurringRaw as FormObject, 'interval_count', { min: 1, max: 12 }) ?? 1 } : null,
  });
}

// ------------------------------------------------------------------ customers

route('POST', '/v1/customers', 'customerCreate', (state, { params }) => {
  const email = validEmail(str(params, 'email'));
  const metadata = applyMetadata({}, params.metadata);
  const customer = state.createCustomer({
    email: email ?? null,
    name: str(params, 'name') ?? null,
    description: str(params, 'description') ?? null,
    phone: str(params, 'phone') ?? null,
    metadata,
  });
  return renderCustomer(state, customer.id);
});

route('GET', '/v1/customers', 'customerList', (state, { params }) => {
  const email = str(params, 'email');
  const records = [...state.customers.values()].filter((c) => !c.deleted && (email === undefined || c.email === email)).sort((a, b) => b.seq - a.seq);
  return paginate(records, params, '/v1/customers', (c) => renderCustomer(state, c.id));
});

/**
 * Stripe's search language, the subset a backend uses: `email:'a@b.c'`,
 * `name:'x'`, `metadata['userId']:'u1'`, `~` for substring, joined by AND.
 * (Real search lags writes by up to a minute; this one does not.)
 */
route('GET', '/v1/customers/search', 'customerSearch', (state, { params }) => {
  const query = requiredStr(params, 'query');
  const clauses = query.split(/\s+AND\s+/i).map((clause) => {
    const m = /^\s*(email|name|phone|description|metadata\[['"]([^'"]+)['"]\])\s*([:~])\s*['"](.*)['"]\s*$/.exec(clause);
    if (!m) throw invalidParam(`The local Stripe emulator cannot parse this search query clause: ${clause}`, 'query');
    return { field: m[1] as string, metaKey: m[2], op: m[3] as string, value: m[4] as string };
  });
  const limit = int(params, 'limit', { min: 1, max: 100 }) ?? 10;
  const matches = [...state.customers.values()]
    .filter((c) => !c.deleted)
    .filter((c) =>
      clauses.every(({ field, metaKey, op, value }) => {
        const actual = metaKey !== undefined ? c.metadata[metaKey] : (c as unknown as Record<string, string | null>)[field];
        if (actual === undefined || actual === null) return false;
        return op === ':' ? actual.toLowerCase() === value.toLowerCase() : actual.toLowerCase().includes(value.toLowerCase());
      }),
    )
    .sort((a, b) => b.seq - a.seq);
  return {
    object: 'search_result',
    data: matches.slice(0, limit).map((c) => renderCustomer(state, c.id)),
    has_more: matches.length > limit,
    next_page: null,
    url: '/v1/customers/search',
  };
});

route('GET', '/v1/customers/:id', 'retrieve', (state, { path }) => renderCustomer(state, state.customer(path.id as string).id));

route('POST', '/v1/customers/:id', 'customerUpdate', (state, { params, path }) => {
  const customer = state.liveCustomer(path.id as string);
  const email = nullable(params, 'email');
  validEmail(email ?? undefined);
  const name = nullable(params, 'name');
  const description = nullable(params, 'description');
  const phone = nullable(params, 'phone');
  const metadata = applyMetadata(customer.metadata, params.metadata);
  state.updateCustomer(customer.id, (c) => {
    if (email !== undefined) c.email = email;
    if (name !== undefined) c.name = name;
    if (description !== undefined) c.description = description;
    if (phone !== undefined) c.phone = phone;
    c.metadata = metadata;
  });
  return renderCustomer(state, customer.id);
});

route('DELETE', '/v1/customers/:id', 'customerDelete', (state, { path }) => {
  state.deleteCustomer(path.id as string);
  return { id: path.id, object: 'customer', deleted: true };
});

// ------------------------------------------------------------------ prices and products

route('GET', '/v1/prices', 'priceList', (state, { params }) => {
  const active = bool(params, 'active');
  const lookupKeys = stringList(params, 'lookup_keys');
  const product = str(params, 'product');
  const type = oneOf(params, 'type', ['one_time', 'recurring'] as const);
  const currency = str(params, 'currency');
  const records = [...state.prices.values()]
    .filter((p) => active === undefined || p.active === active)
    .filter((p) => !lookupKeys || lookupKeys.includes(p.lookupKey))
    .filter((p) => !product || p.product === product)
    .filter((p) => !type || (type === 'recurring') === (p.recurring !== null))
    .filter((p) => !currency || currency.toLowerCase() === 'usd')
    .reverse();
  return paginate(records, params, '/v1/prices', (p) => renderPrice(state, p.id));
});

route('GET', '/v1/prices/:id', 'retrieve', (state, { path }) => renderPrice(state, path.id as string));

// What `npm run catalogue -- push` creates. The emulator bills monthly USD prices only (like price_data).
route('POST', '/v1/prices', 'priceCreate', (state, { params }) => {
  const currency = requiredStr(params, 'currency');
  if (currency.toLowerCase() !== 'usd') throw invalidParam('The local Stripe emulator only bills in usd.', 'currency');
  const unitAmount = int(params, 'unit_amount', { min: 0 });
  if (unitAmount === undefined) throw invalidParam('Missing required param: unit_amount.', 'unit_amount', 'parameter_missing');
  if (params.product_data !== undefined) throw invalidParam('The local Stripe emulator creates prices on an existing product only: pass `product`.', 'product_data');
  const product = requiredStr(params, 'product');
  const recurringRaw = obj(params, 'recurring');
  const interval = recurringRaw ? oneOf(recurringRaw, 'interval', ['month'] as const, 'recurring[interval]') : undefined;
  if (recurringRaw && !interval) throw invalidParam('Missing required param: recurring[interval].', 'recurring[interval]', 'parameter_missing');
  const lookupKey = str(params, 'lookup_key');
  if (lookupKey !== undefined && lookupKey.length > 200) throw invalidParam('lookup_key must be at most 200 characters.', 'lookup_key');
  const id = state.createPrice({
    product,
    unitAmount,
    lookupKey,
    transferLookupKey: bool(params, 'transfer_lookup_key') ?? false,
    nickname: str(params, 'nickname'),
    recurring: interval ? { interval, intervalCount: int(recurringRaw as FormObject, 'interval_count', { min: 1, max: 12, label: 'recurring[interval_count]' }) ?? 1 } : null,
    metadata: applyMetadata({}, params.metadata),
    active: bool(params, 'active') ?? true,
  });
  return renderPrice(state, id);
});

// Archive / reactivate (`active`), move a lookup key (`transfer_lookup_key`): what push does to an existing price.
route('POST', '/v1/prices/:id', 'priceUpdate', (state, { params, path }) => {
  const price = state.price(path.id as string);
  const lookupKey = str(params, 'lookup_key');
  if (lookupKey !== undefined && lookupKey.length > 200) throw invalidParam('lookup_key must be at most 200 characters.', 'lookup_key');
  state.updatePrice(price.id, {
    active: bool(params, 'active'),
    lookupKey,
    transferLookupKey: bool(params, 'transfer_lookup_key') ?? false,
    nickname: str(params, 'nickname'),
    metadata: params.metadata === undefined ? undefined : applyMetadata(price.metadata, params.metadata),
  });
  return renderPrice(state, price.id);
});

route('POST', '/v1/products', 'productCreate', (state, { params }) => {
  const id = str(params, 'id');
  if (id !== undefined && !/^[A-Za-z0-9_-]{1,250}$/.test(id)) throw invalidParam('Invalid product id.', 'id');
  const created = state.createProduct({
    ...(id !== undefined ? { id } : {}),
    name: requiredStr(params, 'name'),
    description: str(params, 'description'),
    metadata: applyMetadata({}, params.metadata),
    active: bool(params, 'active') ?? true,
  });
  return renderProduct(state, created);
});

route('GET', '/v1/products', 'productList', (state, { params }) => {
  const active = bool(params, 'active');
  const ids = stringList(params, 'ids');
  const records = [...state.products.values()]
    .filter((p) => active === undefined || p.active === active)
    .filter((p) => !ids || ids.includes(p.id))
    .reverse();
  return paginate(records, params, '/v1/products', (p) => renderProduct(state, p.id));
});


// ------------------------------------------------------------------ subscriptions

const SUBSCRIPTION_STATUSES = ['active', 'all', 'canceled', 'ended', 'incomplete', 'incomplete_expired', 'past_due', 'paused', 'trialing', 'unpaid'] as const;

route('POST', '/v1/subscriptions', 'subscriptionCreate', (state, { params }) => {
  const customer = requiredStr(params, 'customer');
  const rawItems = list(params, 'items');
  if (!rawItems || rawItems.length === 0) throw invalidParam('Missing required param: items.', 'items', 'parameter_missing');
  const items = rawItems.map((raw, i) => {
    const label = `items[${i}]`;
    if (!isFormObject(raw)) throw invalidParam(`Invalid object: ${label}`, label);
    const price = str(raw, 'price', `${label}[price]`) ?? str(raw, 'plan', `${label}[plan]`) ?? adHocPrice(state, raw.price_data, `${label}[price_data]`, { recurringAllowed: true });
    if (!price) throw invalidParam(`Missing required param: ${label}[price].`, `${label}[price]`, 'parameter_missing');
    return {
      price,
      quantity: int(raw, 'quantity', { min: 1, label: `${label}[quantity]` }) ?? 1,
      metadata: applyMetadata({}, raw.metadata, `${label}[metadata]`),
    };
  });
  const { subscription } = state.createSubscription({
    customer,
    items,
    trialPeriodDays: int(params, 'trial_period_days', { min: 0, max: 730 }),
    trialEnd: trialEndParam(params),
    metadata: applyMetadata({}, params.metadata),
    cancelAtPeriodEnd: bool(params, 'cancel_at_period_end'),
    description: str(params, 'description') ?? null,
    paymentBehavior: oneOf(params, 'payment_behavior', ['allow_incomplete', 'default_incomplete', 'error_if_incomplete', 'pending_if_incomplete'] as const),
  });
  return renderSubscription(state, subscription.id);
});

route('GET', '/v1/subscriptions', 'subscriptionList', (state, { params }) => {
  const records = state.listSubscriptions({
    customer: str(params, 'customer'),
    status: oneOf(params, 'status', SUBSCRIPTION_STATUSES),
    price: str(params, 'price'),
  });
  return paginate(records, params, '/v1/subscriptions', (s) => renderSubscription(state, s.id));
});

route('GET', '/v1/subscriptions/:id', 'retrieve', (state, { path }) => renderSubscription(state, path.id as string));

route('POST', '/v1/subscriptions/:id', 'subscriptionUpdate', (state, { params, path }) => {
  const sub = state.subscription(path.id as string);
  const rawItems = list(params, 'items');
  const items: ItemChange[] | undefined = rawItems?.map((raw, i) => {
    const label = `items[${i}]`;
    if (!isFormObject(raw)) throw invalidParam(`Invalid object: ${label}`, label);
    return {
      id: str(raw, 'id', `${label}[id]`),
      price: str(raw, 'price', `${label}[price]`) ?? str(raw, 'plan', `${label}[plan]`) ?? adHocPrice(state, raw.price_data, `${label}[price_data]`, { recurringAllowed: true }),
      quantity: int(raw, 'quantity', { min: 1, label: `${label}[quantity]` }),
      deleted: bool(raw, 'deleted', `${label}[deleted]`),
      metadata: raw.metadata === undefined ? undefined : applyMetadata({}, raw.metadata, `${label}[metadata]`),
    };
  });
  let cancelAt: number | 'period_end' | null | undefined;
  if ('cancel_at' in params) {
    const raw = str(params, 'cancel_at');
    if (raw === undefined) cancelAt = null;
    else if (raw === 'min_period_end' || raw === 'max_period_end') cancelAt = 'period_end';
    else if (/^\d+$/.test(raw)) cancelAt = Number(raw);
    else throw invalidParam(`Invalid cancel_at: ${raw}`, 'cancel_at');
  }
  const details = obj(params, 'cancellation_details');
  state.modifySubscription(sub.id, {
    items,
    cancelAtPeriodEnd: bool(params, 'cancel_at_period_end'),
    cancelAt,
    metadata: params.metadata === undefined ? undefined : applyMetadata(sub.metadata, params.metadata),
    description: nullable(params, 'description'),
    prorationBehavior: oneOf(params, 'proration_behavior', ['always_invoice', 'create_prorations', 'none'] as const),
    trialEnd: trialEndParam(params),
    cancellationDetails: details
      ? { comment: nullable(details, 'comment'), feedback: nullable(details, 'feedback') }
      : undefined,
  });
  return renderSubscription(state, sub.id);
});

route('DELETE', '/v1/subscriptions/:id', 'subscriptionCancel', (state, { params, path }) => {
  const details = obj(params, 'cancellation_details');
  const sub = state.cancelSubscription(path.id as string, {
    comment: details ? nullable(details, 'comment') : undefined,
    feedback: details ? nullable(details, 'feedback') : undefined,
  });
  return renderSubscription(state, sub.id);
});

// ------------------------------------------------------------------ Checkout

route('POST', '/v1/checkout/sessions', 'checkoutCreate', (state, { params }) => {
  const mode = oneOf(params, 'mode', ['payment', 'subscription', 'setup'] as const);
  if (!mode) throw invalidParam('Missing required param: mode.', 'mode', 'parameter_missing');
  const customer = str(params, 'customer');
  const customerEmail = validEmail(str(params, 'customer_email'), 'customer_email');
  if (customer && customerEmail) throw invalidParam('You may only specify one of these parameters: customer, customer_email.', 'customer_email');
  if (customer) state.liveCustomer(customer, 'customer');
  const customerCreation = oneOf(params, 'customer_creation', ['always', 'if_required'] as const);
  if (customerCreation && mode !== 'payment') throw invalidParam('`customer_creation` can only be used in `payment` mode.', 'customer_creation');
  if (customerCreation && customer) throw invalidParam('You may only specify one of these parameters: customer, customer_creation.', 'customer_creation');
  const subscriptionData = obj(params, 'subscription_data');
  if (subscriptionData && mode !== 'subscription') throw invalidParam(`You can not pass \`subscription_data\` in \`${mode}\` mode.`, 'subscription_data');
  const paymentIntentData = obj(params, 'payment_intent_data');
  if (paymentIntentData && mode !== 'payment') throw invalidParam(`You can not pass \`payment_intent_data\` in \`${mode}\` mode.`, 'payment_intent_data');

  const rawItems = list(params, 'line_items') ?? [];
  if (mode !== 'setup' && rawItems.length === 0) throw invalidParam('Missing required param: line_items.', 'line_items', 'parameter_missing');
  const lineItems = rawItems.map((raw, i) => {
    const label = `line_items[${i}]`;
    if (!isFormObject(raw)) throw invalidParam(`Invalid object: ${label}`, label);
    const price = str(raw, 'price', `${label}[price]`) ?? adHocPrice(state, raw.price_data, `${label}[price_data]`, { recurringAllowed: mode === 'subscription' });
    if (!price) throw invalidParam(`Missing required param: ${label}[price].`, `${label}[price]`, 'parameter_missing');
    state.price(price, `${label}[price]`);
    const quantity = int(raw, 'quantity', { min: 1, max: 999_999, label: `${label}[quantity]` });
    if (quantity === undefined) throw invalidParam(`Missing required param: ${label}[quantity].`, `${label}[quantity]`, 'parameter_missing');
    return { id: newId('li'), price, quantity };
  });
  const recurring = lineItems.filter((li) => state.price(li.price).recurring);
  if (mode === 'subscription' && recurring.length === 0) {
    throw invalidParam('You must provide at least one recurring price in `subscription` mode when using prices.', 'line_items');
  }
  if (mode === 'payment' && recurring.length > 0) {
    throw invalidParam('You specified `payment` mode but passed a recurring price. Either switch to `subscription` mode or use only one-time prices.', 'line_items');
  }
  const clientReferenceId = str(params, 'client_reference_id');
  if (clientReferenceId && clientReferenceId.length > 200) throw invalidParam('client_reference_id can be at most 200 characters.', 'client_reference_id');
  const expiresAt = int(params, 'expires_at');

  const session = state.createCheckoutSession({
    mode,
    customer: customer ?? null,
    customerEmail: customerEmail ?? null,
    customerCreation: customerCreation ?? (mode === 'payment' && !customer ? 'if_required' : null),
    lineItems,
    successUrl: str(params, 'success_url') ?? null,
    cancelUrl: str(params, 'cancel_url') ?? null,
    returnUrl: str(params, 'return_url') ?? null,
    clientReferenceId: clientReferenceId ?? null,
    metadata: applyMetadata({}, params.metadata),
    subscriptionData: {
      metadata: applyMetadata({}, subscriptionData?.metadata, 'subscription_data[metadata]'),
      trialPeriodDays: subscriptionData ? (int(subscriptionData, 'trial_period_days', { min: 1, max: 730, label: 'subscription_data[trial_period_days]' }) ?? null) : null,
      description: subscriptionData ? (str(subscriptionData, 'description', 'subscription_data[description]') ?? null) : null,
    },
    paymentIntentData: { metadata: applyMetadata({}, paymentIntentData?.metadata, 'payment_intent_data[metadata]') },
    expiresAt,
  });
  return withLineItems(state, session.id, expandPaths(params));
});

/** `line_items` is not in a Checkout Session unless expanded. */
function withLineItems(state: StripeState, id: string, expand: string[]): Json {
  const session = renderCheckoutSession(state, id);
  if (expand.some((p) => p === 'line_items' || p.startsWith('line_items.'))) {
    const data = renderCheckoutLineItems(state, id);
    session.line_items = { object: 'list', data, has_more: false, url: `/v1/checkout/sessions/${id}/line_items` };
  }
  return session;
}

route('GET', '/v1/checkout/sessions', 'checkoutList', (state, { params }) => {
  const records = state.listCheckoutSessions({
    customer: str(params, 'customer'),
    subscription: str(params, 'subscription'),
    status: oneOf(params, 'status', ['open', 'complete', 'expired'] as const),
    paymentIntent: str(params, 'payment_intent'),
  });
  return paginate(records, params, '/v1/checkout/sessions', (s) => renderCheckoutSession(state, s.id));
});

route('GET', '/v1/checkout/sessions/:id', 'retrieve', (state, { params, path }) => withLineItems(state, state.checkoutSession(path.id as string).id, expandPaths(params)));

route('GET', '/v1/checkout/sessions/:id/line_items', 'checkoutLineItems', (state, { params, path }) => {
  const id = state.checkoutSession(path.id as string).id;
  return paginate(renderCheckoutLineItems(state, id) as Array<Json & { id: string }>, params, `/v1/checkout/sessions/${id}/line_items`, (li) => li);
});

route('POST', '/v1/checkout/sessions/:id/expire', 'retrieve', (state, { path }) => renderCheckoutSession(state, state.expireCheckoutSession(path.id as string).id));

// ------------------------------------------------------------------ billing portal

route('POST', '/v1/billing_portal/sessions', 'portalCreate', (state, { params }) => {
  const session = state.createPortalSession(requiredStr(params, 'customer'), str(params, 'return_url') ?? null);
  return renderPortalSession(state, session.id);
});

// ------------------------------------------------------------------ invoices

route('GET', '/v1/invoices', 'invoiceList', (state, { params }) => {
  const records = state.listInvoices({
    customer: str(params, 'customer'),
    subscription: str(params, 'subscription'),
    status: oneOf(params, 'status', ['draft', 'open', 'paid', 'uncollectible', 'void'] as const),
  });
  return paginate(records, params, '/v1/invoices', (i) => renderInvoice(state, i.id));
});

route('GET', '/v1/invoices/:id', 'retrieve', (state, { path }) => renderInvoice(state, path.id as string));

// ------------------------------------------------------------------ payments: intents, charges, refunds, disputes

route('GET', '/v1/payment_intents/:id', 'retrieve', (state, { path }) => renderPaymentIntent(state, path.id as string));

route('GET', '/v1/charges', 'chargeList', (state, { params }) => {
  const records = state.listCharges({ customer: str(params, 'customer'), paymentIntent: str(params, 'payment_intent') });
  return paginate(records, params, '/v1/charges', (c) => renderCharge(state, c.id));
});

route('GET', '/v1/charges/:id', 'retrieve', (state, { path }) => renderCharge(state, path.id as string));

route('POST', '/v1/refunds', 'refundCreate', (state, { params }) => {
  const charge = str(params, 'charge');
  const paymentIntent = str(params, 'payment_intent');
  if (!charge && !paymentIntent) throw invalidParam('One of `charge` or `payment_intent` is required.', 'charge', 'parameter_missing');
  if (charge && paymentIntent) throw invalidParam('You may only specify one of these parameters: charge, payment_intent.', 'payment_intent');
  const refund = state.createRefund({
    charge,
    paymentIntent,
    amount: int(params, 'amount', { min: 1 }),
    reason: oneOf(params, 'reason', ['duplicate', 'fraudulent', 'requested_by_customer'] as const),
    metadata: applyMetadata({}, params.metadata),
  });
  return renderRefund(state, refund.id);
});

route('GET', '/v1/refunds', 'refundList', (state, { params }) => {
  const records = state.listRefunds({ charge: str(params, 'charge'), paymentIntent: str(params, 'payment_intent') });
  return paginate(records, params, '/v1/refunds', (r) => renderRefund(state, r.id));
});


route('GET', '/v1/disputes', 'disputeList', (state, { params }) => {
  const records = state.listDisputes({ charge: str(params, 'charge'), paymentIntent: str(params, 'payment_intent') });
  return paginate(records, params, '/v1/disputes', (d) => renderDispute(state, d.id));
});

route('GET', '/v1/disputes/:id', 'retrieve', (state, { path }) => renderDispute(state, path.id as string));

// ------------------------------------------------------------------ events

route('GET', '/v1/events', 'eventList', (_state, { params }, events) => {
  const type = str(params, 'type');
  const types = stringList(params, 'types');
  const matchType = (t: string) => {
    if (types) return types.includes(t);
    if (!type) return true;
    if (type.endsWith('*')) return t.startsWith(type.slice(0, -1));
    return t === type;
  };
  const deliverySuccess = bool(params, 'delivery_success');
  const created = createdRange(params);
  const records = events
    .list()
    .filter((e) => matchType(e.type) && created(e.created) && (deliverySuccess === undefined || events.delivered(e.id) === deliverySuccess));
  // Copies: expand must not rewrite the logged events. `pending_webhooks` counts the one endpoint until it got the event.
  return paginate(records, params, '/v1/events', (e) => ({ ...(structuredClone(e) as unknown as Json), pending_webhooks: events.delivered(e.id) ? 0 : 1 }));
});
