/**
 * The emulator's account: customers, subscriptions, invoices, Checkout and
 * billing-portal sessions, in memory. Every state change goes through here
 * and emits the event Stripe would send for it; the HTTP layer (api.ts) only
 * parses parameters and renders. Objects are stored as small records and
 * rendered in the real API's shape on every read, so a response, an event
 * payload and a later read always agree.
 */
import { CATALOG, tierPrice, type PriceRecord, type ProductRecord } from './catalog';
import { invalidRequest, resourceMissing, StripeApiError } from './errors';
import { type FormObject } from './form';
import { newId, randomToken } from './ids';
import { periodEnd, periodStart, type Interval } from './periods';

export type Json = Record<string, any>;
export type SubscriptionStatus = 'incomplete' | 'incomplete_expired' | 'trialing' | 'active' | 'past_due' | 'canceled' | 'unpaid' | 'paused';
export type EmitEvent = (type: string, object: Json, previousAttributes?: Json) => void;

export interface CustomerRecord {
  id: string;
  seq: number;
  created: number;
  email: string | null;
  name: string | null;
  description: string | null;
  phone: string | null;
  metadata: Record<string, string>;
  invoicePrefix: string;
  nextInvoiceSequence: number;
  deleted: boolean;
}

export interface ItemRecord {
  id: string;
  created: number;
  price: string;
  quantity: number;
  metadata: Record<string, string>;
}

export interface SubscriptionRecord {
  id: string;
  seq: number;
  customer: string;
  created: number;
  status: SubscriptionStatus;
  items: ItemRecord[];
  /** Billing cycle anchor; period `cycle` runs from periodStart(anchor, cycle). cycle -1 is the trial. */
  anchor: number;
  cycle: number;
  periodStart: number;
  periodEnd: number;
  trialStart: number | null;
  trialEnd: number | null;
  cancelAtPeriodEnd: boolean;
  cancelAt: number | null;
  canceledAt: number | null;
  endedAt: number | null;
  cancellationReason: string | null;
  cancellationComment: string | null;
  cancellationFeedback: string | null;
  description: string | null;
  metadata: Record<string, string>;
  latestInvoice: string | null;
}

export interface InvoiceLine {
  id: string;
  price: string;
  quantity: number;
  amount: number;
  description: string;
  periodStart: number;
  periodEnd: number;
  subscriptionItem: string | null;
  proration: boolean;
}

export interface InvoiceRecord {
  id: string;
  seq: number;
  customer: string;
  subscription: string | null;
  subscriptionMetadata: Record<string, string> | null;
  created: number;
  number: string;
  status: 'open' | 'paid' | 'void' | 'uncollectible';
  billingReason: 'subscription_create' | 'subscription_cycle' | 'subscription_update' | 'manual';
  lines: InvoiceLine[];
  attemptCount: number;
  paidAt: number | null;
  nextPaymentAttempt: number | null;
  periodStart: number;
  periodEnd: number;
}

export interface CheckoutLineItem {
  id: string;
  price: string;
  quantity: number;
}

export interface CheckoutSessionRecord {
  id: string;
  seq: number;
  created: number;
  expiresAt: number;
  mode: 'payment' | 'subscription' | 'setup';
  status: 'open' | 'complete' | 'expired';
  paymentStatus: 'paid' | 'unpaid' | 'no_payment_required';
  customer: string | null;
  customerEmail: string | null;
  customerCreation: 'always' | 'if_required' | null;
  lineItems: CheckoutLineItem[];
  successUrl: string | null;
  cancelUrl: string | null;
  returnUrl: string | null;
  clientReferenceId: string | null;
  metadata: Record<string, string>;
  subscriptionData: { metadata: Record<string, string>; trialPeriodDays: number | null; description: string | null };
  paymentIntentData: { metadata: Record<string, string> };
  subscription: string | null;
  invoice: string | null;
  paymentIntent: string | null;
  completedEmail: string | null;
  /**
   * A delayed payment method (bank debit): `pending` after completion until
   * the payment settles (`succeeded`) or bounces (`failed`); null for cards.
   */
  asyncPayment: 'pending' | 'succeeded' | 'failed' | null;
}

export type PaymentMethodKind = 'card' | 'us_bank_account';

export interface PaymentIntentRecord {
  id: string;
  seq: number;
  created: number;
  customer: string | null;
  amount: number;
  status: 'processing' | 'succeeded' | 'requires_payment_method';
  metadata: Record<string, string>;
  method: PaymentMethodKind;
  latestCharge: string | null;
}

export interface ChargeRecord {
  id: string;
  seq: number;
  created: number;
  customer: string | null;
  paymentIntent: string;
  amount: number;
  amountRefunded: number;
  status: 'pending' | 'succeeded' | 'failed';
  disputed: boolean;
  method: PaymentMethodKind;
  billingEmail: string | null;
}

export interface RefundRecord {
  id: string;
  seq: number;
  created: number;
  charge: string;
  paymentIntent: string;
  customer: string | null;
  amount: number;
  reason: 'duplicate' | 'fraudulent' | 'requested_by_customer' | null;
  metadata: Record<string, string>;
}

export type DisputeStatus = 'needs_response' | 'under_review' | 'won' | 'lost';

export interface DisputeRecord {
  id: string;
  seq: number;
  created: number;
  charge: string;
  paymentIntent: string;
  amount: number;
  status: DisputeStatus;
  reason: string;
}

/** Which charge a control command means: the charge, its payment intent, or the Checkout Session that made it. */
export interface ChargeTarget {
  charge?: string;
  paymentIntent?: string;
  session?: string;
}

export interface PortalSessionRecord {
  id: string;
  created: number;
  customer: string;
  returnUrl: string | null;
}

export interface NewSubscription {
  customer: string;
  items: Array<{ price: string; quantity: number; metadata?: Record<string, string> }>;
  /** Extra one-time prices billed on the first invoice (Checkout in subscription mode). */
  oneTimeItems?: Array<{ price: string; quantity: number }>;
  trialPeriodDays?: number;
  trialEnd?: number | 'now';
  metadata?: Record<string, string>;
  cancelAtPeriodEnd?: boolean;
  description?: string | null;
  /** `default_incomplete`: the first invoice stays open and the subscription `incomplete`. */
  paymentBehavior?: string;
}

export interface ItemChange {
  id?: string;
  price?: string;
  quantity?: number;
  deleted?: boolean;
  metadata?: FormObject | string;
}

const ACTIVE_LIKE: SubscriptionStatus[] = ['trialing', 'active', 'past_due', 'unpaid', 'incomplete', 'paused'];
const DAY = 86_400;

const clone = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;

/** Top-level keys whose values differ, with their old values: Stripe's `previous_attributes`. */
export function previousAttributes(before: Json, after: Json): Json {
  const previous: Json = {};
  for (const key of new Set([...Object.keys(before), ...Object.keys(after)])) {
    if (JSON.stringify(before[key]) !== JSON.stringify(after[key])) previous[key] = before[key] ?? null;
  }
  return previous;
}

const usd = (cents: number) => `$${(cents / 100).toFixed(2)}`;

export class StripeState {
  readonly customers = new Map<string, CustomerRecord>();
  readonly subscriptions = new Map<string, SubscriptionRecord>();
  readonly invoices = new Map<string, InvoiceRecord>();
  readonly checkoutSessions = new Map<string, CheckoutSessionRecord>();
  readonly portalSessions = new Map<string, PortalSessionRecord>();
  readonly paymentIntents = new Map<string, PaymentIntentRecord>();
  readonly charges = new Map<string, ChargeRecord>();
  readonly refunds = new Map<string, RefundRecord>();
  readonly disputes = new Map<string, DisputeRecord>();
  readonly prices = new Map<string, PriceRecord & { active: boolean; created: number }>();
  readonly products = new Map<string, ProductRecord & { active: boolean; created: number }>();
  private seq = 0;
  private readonly now: () => number;
  private readonly emit: EmitEvent;
  private readonly baseUrl: () => string;

  constructor(options: { now?: () => number; emit: EmitEvent; baseUrl: () => string }) {
    this.now = options.now ?? (() => Math.floor(Date.now() / 1000));
    this.emit = options.emit;
    this.baseUrl = options.baseUrl;
    const created = this.now();
    for (const product of CATALOG.products) this.products.set(product.id, { ...clone(product), active: true, created });
    for (const price of CATALOG.prices) this.prices.set(price.id, { ...clone(price), active: true, created });
  }

  private nextSeq(): number {
    return ++this.seq;
  }

  // ---------------------------------------------------------------- prices and products

  price(id: string, param?: string): PriceRecord & { active: boolean; created: number } {
    const price = this.prices.get(id);
    if (!price) throw resourceMissing('price', id, param);
    return price;
  }

  product(id: string): ProductRecord & { active: boolean; created: number } {
    const product = this.products.get(id);
    if (!product) throw resourceMissing('product', id);
    return product;
  }

  /** An ad-hoc price from `price_data` (inactive, like Stripe's). */
  createAdHocPrice(data: { currency: string; unitAmount: number; productName?: string; product?: string; recurring: PriceRecord['recurring']; metadata?: Record<string, string> }): string {
    const created = this.now();
    let productId = data.product;
    if (productId) {
      this.product(productId);
    } else {
      productId = newId('prod');
      this.products.set(productId, {
        id: productId,
        name: data.productName ?? 'Ad-hoc item',
        description: '',
        defaultPrice: '',
        metadata: data.metadata ?? {},
        active: false,
        created,
      });
    }
    const id = newId('price');
    this.prices.set(id, {
      id,
      product: productId,
      nickname: '',
      unitAmount: data.unitAmount,
      lookupKey: '',
      recurring: data.recurring,
      metadata: {},
      active: false,
      created,
    });
    return id;
  }

  renderPrice(id: string): Json {
    const p = this.price(id);
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
  private renderPlan(id: string): Json | null {
    const p = this.price(id);
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

  renderProduct(id: string): Json {
    const p = this.product(id);
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

  // ---------------------------------------------------------------- customers

  customer(id: string, param?: string): CustomerRecord {
    const customer = this.customers.get(id);
    if (!customer) throw resourceMissing('customer', id, param);
    return customer;
  }

  liveCustomer(id: string, param?: string): CustomerRecord {
    const customer = this.customer(id, param);
    if (customer.deleted) throw resourceMissing('customer', id, param);
    return customer;
  }

  createCustomer(fields: { email?: string | null; name?: string | null; description?: string | null; phone?: string | null; metadata?: Record<string, string> }): CustomerRecord {
    const customer: CustomerRecord = {
      id: newId('cus'),
      seq: this.nextSeq(),
      created: this.now(),
      email: fields.email ?? null,
      name: fields.name ?? null,
      description: fields.description ?? null,
      phone: fields.phone ?? null,
      metadata: fields.metadata ?? {},
      invoicePrefix: randomToken(8).toUpperCase(),
      nextInvoiceSequence: 1,
      deleted: false,
    };
    this.customers.set(customer.id, customer);
    this.emit('customer.created', this.renderCustomer(customer.id, { full: true }));
    return customer;
  }

  /** Applies already-validated fields; emits customer.updated when something changed. */
  updateCustomer(id: string, change: (c: CustomerRecord) => void): CustomerRecord {
    const customer = this.liveCustomer(id);
    const before = this.renderCustomer(id);
    change(customer);
    const after = this.renderCustomer(id);
    const previous = previousAttributes(before, after);
    if (Object.keys(previous).length > 0) this.emit('customer.updated', after, previous);
    return customer;
  }

  /** Like Stripe: cancels the customer's subscriptions first (each emits customer.subscription.deleted). */
  deleteCustomer(id: string): void {
    const customer = this.liveCustomer(id);
    for (const sub of this.subscriptionsOf(id)) {
      if (sub.status !== 'canceled' && sub.status !== 'incomplete_expired') this.cancelSubscription(sub.id, { reason: 'cancellation_requested' });
    }
    const full = this.renderCustomer(id, { full: true });
    customer.deleted = true;
    this.emit('customer.deleted', full);
  }

  renderCustomer(id: string, { full = false }: { full?: boolean } = {}): Json {
    const c = this.customer(id);
    if (c.deleted && !full) return { id: c.id, object: 'customer', deleted: true };
    return {
      id: c.id,
      object: 'customer',
      address: null,
      balance: 0,
      created: c.created,
      currency: this.subscriptionsOf(c.id).length > 0 ? 'usd' : null,
      default_source: null,
      delinquent: this.subscriptionsOf(c.id).some((s) => s.status === 'past_due' || s.status === 'unpaid'),
      description: c.description,
      discount: null,
      email: c.email,
      invoice_prefix: c.invoicePrefix,
      invoice_settings: { custom_fields: null, default_payment_method: null, footer: null, rendering_options: null },
      livemode: false,
      metadata: { ...c.metadata },
      name: c.name,
      next_invoice_sequence: c.nextInvoiceSequence,
      phone: c.phone,
      preferred_locales: [],
      shipping: null,
      tax_exempt: 'none',
      test_clock: null,
    };
  }

  /** Customers with this exact email, newest first (Stripe's `email` filter is case-sensitive). */
  customersByEmail(email: string, { caseInsensitive = false } = {}): CustomerRecord[] {
    const wanted = caseInsensitive ? email.trim().toLowerCase() : email;
    return [...this.customers.values()]
      .filter((c) => !c.deleted && (caseInsensitive ? c.email?.toLowerCase() === wanted : c.email === wanted))
      .sort((a, b) => b.seq - a.seq);
  }

  // ---------------------------------------------------------------- subscriptions

  subscription(id: string, param?: string): SubscriptionRecord {
    const sub = this.subscriptions.get(id);
    if (!sub) throw resourceMissing('subscription', id, param);
    return sub;
  }

  subscriptionsOf(customerId: string): SubscriptionRecord[] {
    return [...this.subscriptions.values()].filter((s) => s.customer === customerId).sort((a, b) => b.seq - a.seq);
  }

  private recurringPrice(id: string, param: string): PriceRecord & { recurring: NonNullable<PriceRecord['recurring']> } {
    const price = this.price(id, param);
    if (!price.recurring) {
      throw invalidRequest(`The price specified is set to \`type=one_time\` but this field only accepts prices with \`type=recurring\`.`, param);
    }
    return price as PriceRecord & { recurring: NonNullable<PriceRecord['recurring']> };
  }

  private billing(sub: SubscriptionRecord): { interval: Interval; count: number } {
    const first = sub.items[0];
    const recurring = first ? this.price(first.price).recurring : null;
    return recurring ? { interval: recurring.interval, count: recurring.intervalCount } : { interval: 'month', count: 1 };
  }

  private setCycle(sub: SubscriptionRecord, cycle: number): void {
    const { interval, count } = this.billing(sub);
    sub.cycle = cycle;
    sub.periodStart = periodStart(sub.anchor, interval, count, cycle);
    sub.periodEnd = periodEnd(sub.anchor, interval, count, cycle);
  }

  createSubscription(input: NewSubscription): { subscription: SubscriptionRecord; invoice: InvoiceRecord } {
    const customer = this.liveCustomer(input.customer, 'customer');
    if (input.items.length === 0) throw invalidRequest('Missing required param: items.', 'items', 'parameter_missing');
    const seen = new Set<string>();
    input.items.forEach((item, i) => {
      this.recurringPrice(item.price, `items[${i}][price]`);
      if (seen.has(item.price)) {
        throw invalidRequest('Cannot add multiple subscription items with the same price.', `items[${i}][price]`);
      }
      seen.add(item.price);
    });
    const intervals = new Set(input.items.map((i) => JSON.stringify(this.price(i.price).recurring)));
    if (intervals.size > 1) throw invalidRequest('All prices on a subscription must have the same recurring interval.', 'items');

    const now = this.now();
    let trialEnd: number | null = null;
    if (input.trialEnd !== undefined && input.trialEnd !== 'now') {
      if (input.trialEnd <= now) throw invalidRequest('Invalid timestamp: must be in the future', 'trial_end');
      trialEnd = input.trialEnd;
    } else if (input.trialPeriodDays !== undefined && input.trialPeriodDays > 0) {
      trialEnd = now + input.trialPeriodDays * DAY;
    }
    const incomplete = input.paymentBehavior === 'default_incomplete' && trialEnd === null;
    const sub: SubscriptionRecord = {
      id: newId('sub'),
      seq: this.nextSeq(),
      customer: customer.id,
      created: now,
      status: trialEnd !== null ? 'trialing' : incomplete ? 'incomplete' : 'active',
      items: input.items.map((item) => ({ id: newId('si'), created: now, price: item.price, quantity: item.quantity, metadata: item.metadata ?? {} })),
      anchor: trialEnd ?? now,
      cycle: 0,
      periodStart: now,
      periodEnd: now,
      trialStart: trialEnd !== null ? now : null,
      trialEnd,
      cancelAtPeriodEnd: false,
      cancelAt: null,
      canceledAt: null,
      endedAt: null,
      cancellationReason: null,
      cancellationComment: null,
      cancellationFeedback: null,
      description: input.description ?? null,
      metadata: input.metadata ?? {},
      latestInvoice: null,
    };
    if (trialEnd !== null) {
      sub.cycle = -1;
      sub.periodStart = now;
      sub.periodEnd = trialEnd;
    } else {
      this.setCycle(sub, 0);
    }
    if (input.cancelAtPeriodEnd) {
      sub.cancelAtPeriodEnd = true;
      sub.cancelAt = sub.periodEnd;
      sub.canceledAt = now;
      sub.cancellationReason = 'cancellation_requested';
    }
    this.subscriptions.set(sub.id, sub);
    const invoice = this.createInvoice(sub, 'subscription_create', { trial: trialEnd !== null, oneTimeItems: input.oneTimeItems });
    if (!incomplete) this.payInvoice(invoice);
    sub.latestInvoice = invoice.id;

    this.emit('customer.subscription.created', this.renderSubscription(sub.id));
    if (invoice.status === 'paid') this.emit('invoice.paid', this.renderInvoice(invoice.id));
    return { subscription: sub, invoice };
  }

  /** Runs `change`, then emits customer.subscription.updated with what changed (if anything did). */
  private updateSubscription(sub: SubscriptionRecord, change: () => void): void {
    const before = this.renderSubscription(sub.id);
    const backup = clone(sub);
    try {
      change();
    } catch (err) {
      Object.assign(sub, backup);
      throw err;
    }
    const after = this.renderSubscription(sub.id);
    const previous = previousAttributes(before, after);
    if (Object.keys(previous).length > 0) this.emit('customer.subscription.updated', after, previous);
  }

  private assertNotCanceled(sub: SubscriptionRecord): void {
    if (sub.status === 'canceled' || sub.status === 'incomplete_expired') {
      throw invalidRequest('A canceled subscription can only update its cancellation_details and metadata.');
    }
  }

  /** POST /v1/subscriptions/:id. */
  modifySubscription(
    id: string,
    update: {
      items?: ItemChange[];
      cancelAtPeriodEnd?: boolean;
      metadata?: Record<string, string>;
      description?: string | null;
      prorationBehavior?: string;
      trialEnd?: number | 'now';
      /** A timestamp, 'period_end' (min_period_end / max_period_end: one interval here), or null to unset. */
      cancelAt?: number | 'period_end' | null;
      cancellationDetails?: { comment?: string | null; feedback?: string | null };
    },
  ): SubscriptionRecord {
    const sub = this.subscription(id);
    const onlyBookkeeping =
      update.items === undefined && update.cancelAtPeriodEnd === undefined && update.trialEnd === undefined && update.cancelAt === undefined;
    if (!onlyBookkeeping) this.assertNotCanceled(sub);
    const extraInvoice: InvoiceRecord[] = [];

    this.updateSubscription(sub, () => {
      if (update.metadata) sub.metadata = update.metadata;
      if (update.description !== undefined) sub.description = update.description;
      if (update.cancellationDetails) {
        if (update.cancellationDetails.comment !== undefined) sub.cancellationComment = update.cancellationDetails.comment;
        if (update.cancellationDetails.feedback !== undefined) sub.cancellationFeedback = update.cancellationDetails.feedback;
      }
      if (update.items) {
        const oldAmount = this.recurringAmount(sub);
        this.applyItemChanges(sub, update.items);
        const newAmount = this.recurringAmount(sub);
        // Prorations are only invoiced at once with always_invoice; otherwise they wait for the next cycle.
        if (update.prorationBehavior === 'always_invoice' && newAmount !== oldAmount && (sub.status === 'active' || sub.status === 'past_due')) {
          const invoice = this.createInvoice(sub, 'subscription_update', { prorationAmount: Math.max(0, newAmount - oldAmount) });
          this.payInvoice(invoice);
          sub.latestInvoice = invoice.id;
          extraInvoice.push(invoice);
        }
      }
      if (update.trialEnd !== undefined) this.changeTrialEnd(sub, update.trialEnd, extraInvoice);
      if (update.cancelAtPeriodEnd !== undefined) this.setCancelAtPeriodEnd(sub, update.cancelAtPeriodEnd);
      if (update.cancelAt !== undefined) this.setCancelAt(sub, update.cancelAt);
    });
    for (const invoice of extraInvoice) this.emit('invoice.paid', this.renderInvoice(invoice.id));
    return sub;
  }

  private changeTrialEnd(sub: SubscriptionRecord, trialEnd: number | 'now', invoices: InvoiceRecord[]): void {
    const now = this.now();
    if (trialEnd === 'now') {
      if (sub.status !== 'trialing') return;
      sub.trialEnd = now;
      sub.anchor = now;
      sub.status = 'active';
      this.setCycle(sub, 0);
      const invoice = this.createInvoice(sub, 'subscription_cycle');
      this.payInvoice(invoice);
      sub.latestInvoice = invoice.id;
      invoices.push(invoice);
      return;
    }
    if (trialEnd <= now) throw invalidRequest('Invalid timestamp: must be in the future', 'trial_end');
    if (sub.status !== 'trialing' && sub.status !== 'active') throw invalidRequest('Cannot set a trial on this subscription.', 'trial_end');
    sub.status = 'trialing';
    sub.trialStart ??= now;
    sub.trialEnd = trialEnd;
    sub.anchor = trialEnd;
    sub.cycle = -1;
    sub.periodEnd = trialEnd;
  }

  private applyItemChanges(sub: SubscriptionRecord, changes: ItemChange[]): void {
    const now = this.now();
    changes.forEach((change, i) => {
      if (change.id) {
        const item = sub.items.find((it) => it.id === change.id);
        if (!item) throw resourceMissing('subscription item', change.id, `items[${i}][id]`);
        if (change.deleted) {
          sub.items = sub.items.filter((it) => it !== item);
          return;
        }
        if (change.price) {
          this.recurringPrice(change.price, `items[${i}][price]`);
          if (change.price !== item.price && sub.items.some((it) => it.price === change.price)) {
            throw invalidRequest('Cannot add multiple subscription items with the same price.', `items[${i}][price]`);
          }
          item.price = change.price;
        }
        if (change.quantity !== undefined) item.quantity = change.quantity;
        if (change.metadata !== undefined && typeof change.metadata === 'object') item.metadata = { ...item.metadata, ...(change.metadata as Record<string, string>) };
        return;
      }
      if (change.deleted) throw invalidRequest('Deleting an item needs its id.', `items[${i}][id]`);
      if (!change.price) throw invalidRequest(`Missing required param: items[${i}][price].`, `items[${i}][price]`, 'parameter_missing');
      this.recurringPrice(change.price, `items[${i}][price]`);
      // Without an id Stripe ADDS an item: changing plans needs items[0][id].
      if (sub.items.some((it) => it.price === change.price)) {
        throw invalidRequest('Cannot add multiple subscription items with the same price.', `items[${i}][price]`);
      }
      sub.items.push({ id: newId('si'), created: now, price: change.price, quantity: change.quantity ?? 1, metadata: {} });
    });
    if (sub.items.length === 0) throw invalidRequest('A subscription must have at least one active price.', 'items');
    const intervals = new Set(sub.items.map((it) => JSON.stringify(this.price(it.price).recurring)));
    if (intervals.size > 1) throw invalidRequest('All prices on a subscription must have the same recurring interval.', 'items');
  }

  private setCancelAtPeriodEnd(sub: SubscriptionRecord, flag: boolean): void {
    if (flag === sub.cancelAtPeriodEnd) return;
    sub.cancelAtPeriodEnd = flag;
    sub.cancelAt = flag ? sub.periodEnd : null;
    sub.canceledAt = flag ? this.now() : null;
    sub.cancellationReason = flag ? 'cancellation_requested' : null;
  }

  private setCancelAt(sub: SubscriptionRecord, at: number | 'period_end' | null): void {
    if (at === null) {
      sub.cancelAt = null;
      sub.cancelAtPeriodEnd = false;
      sub.canceledAt = null;
      sub.cancellationReason = null;
      return;
    }
    const when = at === 'period_end' ? sub.periodEnd : at;
    if (when <= this.now()) throw invalidRequest('Invalid timestamp: must be in the future', 'cancel_at');
    sub.cancelAt = when;
    sub.cancelAtPeriodEnd = false;
    sub.canceledAt = this.now();
    sub.cancellationReason = 'cancellation_requested';
  }

  /** DELETE /v1/subscriptions/:id: ends it now; emits customer.subscription.deleted. */
  cancelSubscription(id: string, { reason = 'cancellation_requested', comment, feedback }: { reason?: string; comment?: string | null; feedback?: string | null } = {}): SubscriptionRecord {
    const sub = this.subscription(id);
    if (sub.status === 'canceled' || sub.status === 'incomplete_expired') {
      throw invalidRequest(`This subscription has already been canceled: ${id}`, undefined, 'resource_missing');
    }
    const now = this.now();
    sub.status = 'canceled';
    sub.canceledAt = now;
    sub.endedAt = now;
    sub.cancellationReason = reason;
    if (comment !== undefined) sub.cancellationComment = comment;
    if (feedback !== undefined) sub.cancellationFeedback = feedback;
    this.emit('customer.subscription.deleted', this.renderSubscription(sub.id));
    return sub;
  }

  /** Control: cancel now, or at the end of the period (customer.subscription.updated). */
  requestCancellation(id: string, atPeriodEnd: boolean): SubscriptionRecord {
    return atPeriodEnd ? this.modifySubscription(id, { cancelAtPeriodEnd: true }) : this.cancelSubscription(id);
  }

  /**
   * Control: time reaches the end of the current period. A subscription set to
   * cancel at period end ends (customer.subscription.deleted); otherwise the next
   * period starts, a trial converts to active, and its invoice is paid
   * (customer.subscription.updated, invoice.paid).
   */
  renewSubscription(id: string): { subscription: SubscriptionRecord; invoice: InvoiceRecord | null } {
    const sub = this.subscription(id);
    this.assertNotCanceled(sub);
    if (sub.status === 'incomplete') throw invalidRequest('An incomplete subscription cannot renew: pay its first invoice (recover) first.');
    if (sub.cancelAtPeriodEnd || (sub.cancelAt !== null && sub.cancelAt <= sub.periodEnd)) {
      sub.status = 'canceled';
      sub.endedAt = sub.cancelAt ?? sub.periodEnd;
      this.emit('customer.subscription.deleted', this.renderSubscription(sub.id));
      return { subscription: sub, invoice: null };
    }
    let invoice: InvoiceRecord | undefined;
    this.updateSubscription(sub, () => {
      this.setCycle(sub, sub.cycle + 1);
      sub.status = 'active';
      invoice = this.createInvoice(sub, 'subscription_cycle');
      this.payInvoice(invoice);
      sub.latestInvoice = invoice.id;
    });
    const paid = invoice as InvoiceRecord;
    this.emit('invoice.paid', this.renderInvoice(paid.id));
    return { subscription: sub, invoice: paid };
  }

  /**
   * Control: the renewal payment fails. Like Stripe, the next period still
   * starts, its invoice stays open and the subscription goes past_due
   * (invoice.payment_failed, customer.subscription.updated). On a subscription
   * already past_due it is a failed retry of the open invoice; `final` marks
   * the retries exhausted: status unpaid.
   */
  failPayment(id: string, { final = false }: { final?: boolean } = {}): { subscription: SubscriptionRecord; invoice: InvoiceRecord } {
    const sub = this.subscription(id);
    this.assertNotCanceled(sub);
    const before = this.renderSubscription(sub.id);
    const open = sub.latestInvoice ? this.invoices.get(sub.latestInvoice) : undefined;
    let invoice: InvoiceRecord;
    if (open && open.status === 'open') {
      invoice = open;
    } else {
      this.setCycle(sub, sub.cycle + 1);
      invoice = this.createInvoice(sub, 'subscription_cycle');
      sub.latestInvoice = invoice.id;
    }
    invoice.attemptCount += 1;
    invoice.nextPaymentAttempt = final ? null : this.now() + 3 * DAY;
    if (sub.status !== 'incomplete') sub.status = final ? 'unpaid' : 'past_due';
    // Stripe's order: the failed payment first, then the subscription's status change.
    this.emit('invoice.payment_failed', this.renderInvoice(invoice.id));
    const after = this.renderSubscription(sub.id);
    const previous = previousAttributes(before, after);
    if (Object.keys(previous).length > 0) this.emit('customer.subscription.updated', after, previous);
    return { subscription: sub, invoice };
  }

  /** Control: the open invoice gets paid (card updated, retry succeeds): invoice.paid, status active. */
  recoverPayment(id: string): { subscription: SubscriptionRecord; invoice: InvoiceRecord } {
    const sub = this.subscription(id);
    this.assertNotCanceled(sub);
    const invoice = sub.latestInvoice ? this.invoices.get(sub.latestInvoice) : undefined;
    if (!invoice || invoice.status !== 'open') throw invalidRequest(`Subscription ${id} has no open invoice to pay.`);
    this.payInvoice(invoice);
    this.emit('invoice.paid', this.renderInvoice(invoice.id));
    this.updateSubscription(sub, () => {
      sub.status = sub.trialEnd !== null && sub.cycle === -1 ? 'trialing' : 'active';
    });
    return { subscription: sub, invoice };
  }

  renderSubscription(id: string): Json {
    const s = this.subscription(id);
    const itemData = s.items.map((it) => ({
      id: it.id,
      object: 'subscription_item',
      billing_thresholds: null,
      created: it.created,
      current_period_end: s.periodEnd,
      current_period_start: s.periodStart,
      current_trial: null,
      discounts: [],
      metadata: { ...it.metadata },
      plan: this.renderPlan(it.price),
      price: this.renderPrice(it.price),
      quantity: it.quantity,
      subscription: s.id,
      tax_rates: [],
    }));
    return {
      id: s.id,
      object: 'subscription',
      application: null,
      application_fee_percent: null,
      automatic_tax: { disabled_reason: null, enabled: false, liability: null },
      billing_cycle_anchor: s.anchor,
      billing_cycle_anchor_config: null,
      billing_mode: { flexible: null, type: 'classic' },
      billing_schedules: [],
      billing_thresholds: null,
      cancel_at: s.cancelAt,
      cancel_at_period_end: s.cancelAtPeriodEnd,
      canceled_at: s.canceledAt,
      cancellation_details: { comment: s.cancellationComment, feedback: s.cancellationFeedback, feedback_option: null, reason: s.cancellationReason },
      collection_method: 'charge_automatically',
      created: s.created,
      currency: 'usd',
      // No top-level current_period_*: since API 2025-03-31.basil the period lives on each item.
      customer: s.customer,
      customer_account: null,
      days_until_due: null,
      default_payment_method: null,
      default_source: null,
      default_tax_rates: [],
      description: s.description,
      discounts: [],
      ended_at: s.endedAt,
      invoice_settings: { account_tax_ids: null, custom_fields: null, description: null, footer: null, issuer: { type: 'self' } },
      items: { object: 'list', data: itemData, has_more: false, total_count: itemData.length, url: `/v1/subscription_items?subscription=${s.id}` },
      latest_invoice: s.latestInvoice,
      livemode: false,
      managed_payments: null,
      metadata: { ...s.metadata },
      next_pending_invoice_item_invoice: null,
      on_behalf_of: null,
      pause_collection: null,
      payment_settings: { payment_method_options: null, payment_method_types: null, save_default_payment_method: 'off' },
      pending_invoice_item_interval: null,
      pending_setup_intent: null,
      pending_update: null,
      schedule: null,
      start_date: s.created,
      status: s.status,
      test_clock: null,
      transfer_data: null,
      trial_end: s.trialEnd,
      trial_settings: { end_behavior: { billing_cycle_anchor: null, missing_payment_method: 'create_invoice' } },
      trial_start: s.trialStart,
    };
  }

  listSubscriptions(filter: { customer?: string; status?: string; price?: string }): SubscriptionRecord[] {
    return [...this.subscriptions.values()]
      .filter((s) => (filter.customer ? s.customer === filter.customer : true))
      .filter((s) => (filter.price ? s.items.some((it) => it.price === filter.price) : true))
      .filter((s) => {
        const status = filter.status;
        if (!status) return s.status !== 'canceled' && s.status !== 'incomplete_expired';
        if (status === 'all') return true;
        if (status === 'ended') return s.status === 'canceled' || s.status === 'incomplete_expired';
        return s.status === status;
      })
      .sort((a, b) => b.seq - a.seq);
  }

  /** The customer's subscription that is not over yet (newest first), if any. */
  currentSubscriptionOf(customerId: string): SubscriptionRecord | undefined {
    return this.subscriptionsOf(customerId).find((s) => ACTIVE_LIKE.includes(s.status));
  }

  private recurringAmount(sub: SubscriptionRecord): number {
    return sub.items.reduce((sum, it) => sum + this.price(it.price).unitAmount * it.quantity, 0);
  }

  // ---------------------------------------------------------------- invoices

  private createInvoice(
    sub: SubscriptionRecord,
    billingReason: InvoiceRecord['billingReason'],
    { trial = false, prorationAmount, oneTimeItems = [] }: { trial?: boolean; prorationAmount?: number; oneTimeItems?: Array<{ price: string; quantity: number }> } = {},
  ): InvoiceRecord {
    const customer = this.customer(sub.customer);
    const now = this.now();
    const lines: InvoiceLine[] =
      prorationAmount !== undefined
        ? [
            {
              id: newId('il'),
              price: (sub.items[0] as ItemRecord).price,
              quantity: 1,
              amount: prorationAmount,
              description: `Remaining time on ${this.describeItems(sub)} after plan change`,
              periodStart: now,
              periodEnd: sub.periodEnd,
              subscriptionItem: (sub.items[0] as ItemRecord).id,
              proration: true,
            },
          ]
        : sub.items.map((it) => {
            const price = this.price(it.price);
            const product = this.product(price.product);
            return {
              id: newId('il'),
              price: it.price,
              quantity: it.quantity,
              amount: trial ? 0 : price.unitAmount * it.quantity,
              description: trial
                ? `Trial period for ${product.name}`
                : `${it.quantity} × ${product.name} (at ${usd(price.unitAmount)} / ${price.recurring?.interval ?? 'month'})`,
              periodStart: sub.periodStart,
              periodEnd: sub.periodEnd,
              subscriptionItem: it.id,
              proration: false,
            };
          });
    for (const extra of oneTimeItems) {
      const price = this.price(extra.price);
      lines.push({
        id: newId('il'),
        price: extra.price,
        quantity: extra.quantity,
        amount: price.unitAmount * extra.quantity,
        description: `${extra.quantity} × ${this.product(price.product).name}`,
        periodStart: now,
        periodEnd: now,
        subscriptionItem: null,
        proration: false,
      });
    }
    const invoice: InvoiceRecord = {
      id: newId('in'),
      seq: this.nextSeq(),
      customer: customer.id,
      subscription: sub.id,
      subscriptionMetadata: { ...sub.metadata },
      created: now,
      number: `${customer.invoicePrefix}-${String(customer.nextInvoiceSequence).padStart(4, '0')}`,
      status: 'open',
      billingReason,
      lines,
      attemptCount: 0,
      paidAt: null,
      nextPaymentAttempt: null,
      periodStart: sub.periodStart,
      periodEnd: sub.periodEnd,
    };
    customer.nextInvoiceSequence += 1;
    this.invoices.set(invoice.id, invoice);
    return invoice;
  }

  private payInvoice(invoice: InvoiceRecord): void {
    invoice.status = 'paid';
    invoice.attemptCount += 1;
    invoice.paidAt = this.now();
    invoice.nextPaymentAttempt = null;
  }

  private describeItems(sub: SubscriptionRecord): string {
    return sub.items.map((it) => this.product(this.price(it.price).product).name).join(', ');
  }

  invoice(id: string): InvoiceRecord {
    const invoice = this.invoices.get(id);
    if (!invoice) throw resourceMissing('invoice', id);
    return invoice;
  }

  renderInvoice(id: string): Json {
    const inv = this.invoice(id);
    const customer = this.customer(inv.customer);
    const total = inv.lines.reduce((sum, l) => sum + l.amount, 0);
    const paid = inv.status === 'paid' ? total : 0;
    const lineData = inv.lines.map((l) => {
      const price = this.price(l.price);
      return {
        id: l.id,
        object: 'line_item',
        amount: l.amount,
        currency: 'usd',
        description: l.description,
        discount_amounts: [],
        discountable: true,
        discounts: [],
        invoice: inv.id,
        livemode: false,
        metadata: {},
        parent: l.subscriptionItem
          ? {
              invoice_item_details: null,
              subscription_item_details: {
                invoice_item: null,
                proration: l.proration,
                proration_details: { credited_items: null },
                subscription: inv.subscription,
                subscription_item: l.subscriptionItem,
              },
              type: 'subscription_item_details',
            }
          : null,
        period: { end: l.periodEnd, start: l.periodStart },
        pretax_credit_amounts: [],
        pricing: { price_details: { price: price.id, product: price.product }, type: 'price_details', unit_amount_decimal: String(price.unitAmount) },
        quantity: l.quantity,
        quantity_decimal: String(l.quantity),
        subscription: l.subscriptionItem ? inv.subscription : null,
        subtotal: l.amount,
        taxes: [],
      };
    });
    return {
      id: inv.id,
      object: 'invoice',
      account_country: 'US',
      account_name: 'Local Stripe emulator',
      account_tax_ids: null,
      amount_due: total,
      amount_overpaid: 0,
      amount_paid: paid,
      amount_remaining: total - paid,
      amount_shipping: 0,
      application: null,
      attempt_count: inv.attemptCount,
      attempted: inv.attemptCount > 0,
      auto_advance: inv.status === 'open',
      automatic_tax: { disabled_reason: null, enabled: false, liability: null, provider: null, status: null },
      automatically_finalizes_at: null,
      billing_reason: inv.billingReason,
      collection_method: 'charge_automatically',
      created: inv.created,
      currency: 'usd',
      custom_fields: null,
      customer: inv.customer,
      customer_account: null,
      customer_address: null,
      customer_email: customer.email,
      customer_name: customer.name,
      customer_phone: customer.phone,
      customer_shipping: null,
      customer_tax_exempt: 'none',
      customer_tax_ids: [],
      default_payment_method: null,
      default_source: null,
      default_tax_rates: [],
      description: null,
      discounts: [],
      due_date: null,
      effective_at: inv.created,
      ending_balance: 0,
      footer: null,
      from_invoice: null,
      hosted_invoice_url: `${this.baseUrl()}/invoice/${inv.id}`,
      invoice_pdf: null,
      issuer: { type: 'self' },
      last_finalization_error: null,
      latest_revision: null,
      lines: { object: 'list', data: lineData, has_more: false, total_count: lineData.length, url: `/v1/invoices/${inv.id}/lines` },
      livemode: false,
      metadata: {},
      next_payment_attempt: inv.nextPaymentAttempt,
      number: inv.number,
      on_behalf_of: null,
      // Since API 2025-03-31.basil the subscription lives here only (no top-level `subscription`).
      parent: inv.subscription
        ? {
            quote_details: null,
            subscription_details: { metadata: inv.subscriptionMetadata, subscription: inv.subscription },
            type: 'subscription_details',
          }
        : null,
      payment_settings: { default_mandate: null, payment_method_options: null, payment_method_types: null },
      period_end: inv.periodEnd,
      period_start: inv.periodStart,
      post_payment_credit_notes_amount: 0,
      pre_payment_credit_notes_amount: 0,
      receipt_number: null,
      rendering: null,
      shipping_cost: null,
      shipping_details: null,
      starting_balance: 0,
      statement_descriptor: null,
      status: inv.status,
      status_transitions: {
        finalized_at: inv.created,
        marked_uncollectible_at: null,
        paid_at: inv.paidAt,
        voided_at: null,
      },
      subtotal: total,
      subtotal_excluding_tax: total,
      test_clock: null,
      total,
      total_discount_amounts: [],
      total_excluding_tax: total,
      total_pretax_credit_amounts: [],
      total_taxes: [],
      webhooks_delivered_at: inv.created,
    };
  }

  listInvoices(filter: { customer?: string; subscription?: string; status?: string }): InvoiceRecord[] {
    return [...this.invoices.values()]
      .filter((i) => (filter.customer ? i.customer === filter.customer : true))
      .filter((i) => (filter.subscription ? i.subscription === filter.subscription : true))
      .filter((i) => (filter.status ? i.status === filter.status : true))
      .sort((a, b) => b.seq - a.seq);
  }

  // ---------------------------------------------------------------- Checkout

  checkoutSession(id: string): CheckoutSessionRecord {
    const session = this.checkoutSessions.get(id);
    if (!session) throw resourceMissing('checkout.session', id);
    return session;
  }

  createCheckoutSession(
    input: Omit<CheckoutSessionRecord, 'id' | 'seq' | 'created' | 'expiresAt' | 'status' | 'paymentStatus' | 'subscription' | 'invoice' | 'paymentIntent' | 'completedEmail' | 'asyncPayment'> & { expiresAt?: number },
  ): CheckoutSessionRecord {
    const now = this.now();
    const session: CheckoutSessionRecord = {
      ...input,
      id: `cs_test_${randomToken(58)}`,
      seq: this.nextSeq(),
      created: now,
      expiresAt: input.expiresAt ?? now + DAY,
      status: 'open',
      paymentStatus: input.mode === 'setup' ? 'no_payment_required' : 'unpaid',
      subscription: null,
      invoice: null,
      paymentIntent: null,
      completedEmail: null,
      asyncPayment: null,
    };
    this.checkoutSessions.set(session.id, session);
    return session;
  }

  private sessionAmount(session: CheckoutSessionRecord): number {
    const trial = session.mode === 'subscription' && (session.subscriptionData.trialPeriodDays ?? 0) > 0;
    return session.lineItems.reduce((sum, li) => {
      const price = this.price(li.price);
      return sum + (trial && price.recurring ? 0 : price.unitAmount * li.quantity);
    }, 0);
  }

  /**
   * Control: the customer pays. Subscription mode creates the customer if
   * needed and the subscription (customer.subscription.created, invoice.paid);
   * payment mode a payment intent and its charge; every mode then emits
   * checkout.session.completed. `delayed` pays with a bank debit, as Stripe
   * does it: the session completes `unpaid` (payment mode: the payment intent
   * is `processing`; subscription mode: the subscription is `incomplete`, its
   * first invoice open) until settleAsyncPayment.
   */
  completeCheckoutSession(id: string, { email, delayed = false }: { email?: string; delayed?: boolean } = {}): CheckoutSessionRecord {
    const session = this.checkoutSession(id);
    if (session.status !== 'open') throw invalidRequest(`Checkout session ${id} is already ${session.status}.`);
    if (session.expiresAt <= this.now()) throw invalidRequest(`Checkout session ${id} has expired.`);
    const payerEmail = email ?? session.customerEmail ?? (session.customer ? this.customer(session.customer).email : null) ?? `payer-${randomToken(6).toLowerCase()}@example.test`;
    if (!session.customer && (session.mode === 'subscription' || session.customerCreation === 'always')) {
      session.customer = this.createCustomer({ email: payerEmail }).id;
    }
    session.completedEmail = payerEmail;
    if (session.mode === 'subscription') {
      const recurring = session.lineItems.filter((li) => this.price(li.price).recurring);
      const oneTime = session.lineItems.filter((li) => !this.price(li.price).recurring);
      const free = this.sessionAmount(session) === 0;
      const { subscription, invoice } = this.createSubscription({
        customer: session.customer as string,
        items: recurring.map((li) => ({ price: li.price, quantity: li.quantity })),
        oneTimeItems: oneTime.map((li) => ({ price: li.price, quantity: li.quantity })),
        trialPeriodDays: session.subscriptionData.trialPeriodDays ?? undefined,
        metadata: session.subscriptionData.metadata,
        description: session.subscriptionData.description,
        paymentBehavior: delayed && !free ? 'default_incomplete' : undefined,
      });
      session.subscription = subscription.id;
      session.invoice = invoice.id;
      session.paymentStatus = free ? 'no_payment_required' : delayed ? 'unpaid' : 'paid';
      if (delayed && !free) session.asyncPayment = 'pending';
    } else if (session.mode === 'payment') {
      const intent = this.createPaymentIntent(session, delayed ? 'us_bank_account' : 'card', payerEmail);
      session.paymentIntent = intent.id;
      session.paymentStatus = delayed ? 'unpaid' : 'paid';
      if (delayed) session.asyncPayment = 'pending';
    }
    session.status = 'complete';
    this.emit('checkout.session.completed', this.renderCheckoutSession(session.id));
    return session;
  }

  /**
   * Control: the delayed payment of a completed session settles. Succeeded:
   * payment mode's payment intent and charge succeed; subscription mode's first
   * invoice is paid and the subscription turns active (invoice.paid,
   * customer.subscription.updated); then checkout.session.async_payment_succeeded.
   * Failed: the charge fails / the invoice payment fails (invoice.payment_failed,
   * the subscription stays incomplete); then checkout.session.async_payment_failed.
   */
  settleAsyncPayment(id: string, outcome: 'succeeded' | 'failed'): CheckoutSessionRecord {
    const session = this.checkoutSession(id);
    if (session.asyncPayment !== 'pending') {
      throw invalidRequest(`Checkout session ${id} has no delayed payment waiting to settle (complete it with delayed: true first).`);
    }
    if (session.mode === 'payment') {
      const intent = this.paymentIntent(session.paymentIntent as string);
      const charge = this.charge(intent.latestCharge as string);
      intent.status = outcome === 'succeeded' ? 'succeeded' : 'requires_payment_method';
      charge.status = outcome;
    } else if (session.subscription) {
      if (outcome === 'succeeded') this.recoverPayment(session.subscription);
      else this.failPayment(session.subscription);
    }
    session.asyncPayment = outcome;
    if (outcome === 'succeeded') session.paymentStatus = 'paid';
    this.emit(`checkout.session.async_payment_${outcome}`, this.renderCheckoutSession(session.id));
    return session;
  }

  expireCheckoutSession(id: string): CheckoutSessionRecord {
    const session = this.checkoutSession(id);
    if (session.status !== 'open') throw invalidRequest(`Only Checkout Sessions with a status in ["open"] can be expired. This Checkout Session has a status of "${session.status}".`);
    session.status = 'expired';
    this.emit('checkout.session.expired', this.renderCheckoutSession(session.id));
    return session;
  }

  renderCheckoutLineItems(id: string): Json[] {
    const session = this.checkoutSession(id);
    return session.lineItems.map((li) => {
      const price = this.price(li.price);
      const amount = price.unitAmount * li.quantity;
      return {
        id: li.id,
        object: 'item',
        adjustable_quantity: null,
        amount_discount: 0,
        amount_subtotal: amount,
        amount_tax: 0,
        amount_total: amount,
        currency: 'usd',
        description: this.product(price.product).name,
        metadata: {},
        price: this.renderPrice(price.id),
        quantity: li.quantity,
      };
    });
  }

  renderCheckoutSession(id: string): Json {
    const s = this.checkoutSession(id);
    const amount = s.mode === 'setup' ? null : this.sessionAmount(s);
    const email = s.completedEmail ?? s.customerEmail;
    return {
      id: s.id,
      object: 'checkout.session',
      adaptive_pricing: null,
      after_expiration: null,
      allow_promotion_codes: null,
      allowed_payment_method_types: null,
      amount_subtotal: amount,
      amount_total: amount,
      automatic_tax: { enabled: false, liability: null, provider: null, status: null },
      billing_address_collection: null,
      cancel_url: s.cancelUrl,
      client_reference_id: s.clientReferenceId,
      client_secret: null,
      collected_information: null,
      consent: null,
      consent_collection: null,
      created: s.created,
      currency: s.mode === 'setup' ? null : 'usd',
      currency_conversion: null,
      custom_fields: [],
      custom_text: { after_submit: null, shipping_address: null, submit: null, terms_of_service_acceptance: null },
      customer: s.customer,
      customer_account: null,
      customer_creation: s.customerCreation,
      customer_details:
        s.status === 'complete'
          ? { address: null, business_name: null, email, individual_name: null, name: null, phone: null, tax_exempt: 'none', tax_ids: [] }
          : null,
      customer_email: s.customerEmail,
      discounts: [],
      expires_at: s.expiresAt,
      integration_identifier: null,
      invoice: s.invoice,
      invoice_creation: null,
      livemode: false,
      locale: null,
      managed_payments: null,
      metadata: { ...s.metadata },
      mode: s.mode,
      origin_context: null,
      payment_intent: s.paymentIntent,
      payment_link: null,
      payment_method_collection: s.mode === 'subscription' ? 'always' : null,
      payment_method_configuration_details: null,
      payment_method_options: {},
      payment_method_types: ['card'],
      payment_status: s.paymentStatus,
      permissions: null,
      recovered_from: null,
      saved_payment_method_options: null,
      setup_intent: null,
      shipping_address_collection: null,
      shipping_cost: null,
      shipping_options: [],
      status: s.status,
      submit_type: null,
      subscription: s.subscription,
      success_url: s.successUrl,
      total_details: { amount_discount: 0, amount_shipping: 0, amount_tax: 0 },
      ui_mode: 'hosted',
      url: s.status === 'open' ? `${this.baseUrl()}/checkout/${s.id}` : null,
      wallet_options: null,
    };
  }

  listCheckoutSessions(filter: { customer?: string; subscription?: string; status?: string; paymentIntent?: string }): CheckoutSessionRecord[] {
    return [...this.checkoutSessions.values()]
      .filter((s) => (filter.customer ? s.customer === filter.customer : true))
      .filter((s) => (filter.subscription ? s.subscription === filter.subscription : true))
      .filter((s) => (filter.status ? s.status === filter.status : true))
      .filter((s) => (filter.paymentIntent ? s.paymentIntent === filter.paymentIntent : true))
      .sort((a, b) => b.seq - a.seq);
  }

  // ---------------------------------------------------------------- payments: intents, charges, refunds, disputes

  paymentIntent(id: string, param?: string): PaymentIntentRecord {
    const intent = this.paymentIntents.get(id);
    if (!intent) throw resourceMissing('payment_intent', id, param);
    return intent;
  }

  charge(id: string, param?: string): ChargeRecord {
    const charge = this.charges.get(id);
    if (!charge) throw resourceMissing('charge', id, param);
    return charge;
  }

  refund(id: string): RefundRecord {
    const refund = this.refunds.get(id);
    if (!refund) throw resourceMissing('refund', id);
    return refund;
  }

  dispute(id: string): DisputeRecord {
    const dispute = this.disputes.get(id);
    if (!dispute) throw resourceMissing('dispute', id);
    return dispute;
  }

  /** A Checkout payment: the intent and its one charge (pending for a bank debit until it settles). */
  private createPaymentIntent(session: CheckoutSessionRecord, method: PaymentMethodKind, email: string | null): PaymentIntentRecord {
    const now = this.now();
    const amount = this.sessionAmount(session);
    const intent: PaymentIntentRecord = {
      id: newId('pi', 24),
      seq: this.nextSeq(),
      created: now,
      customer: session.customer,
      amount,
      status: method === 'card' ? 'succeeded' : 'processing',
      metadata: { ...session.paymentIntentData.metadata },
      method,
      latestCharge: null,
    };
    const charge: ChargeRecord = {
      id: newId('ch', 24),
      seq: this.nextSeq(),
      created: now,
      customer: session.customer,
      paymentIntent: intent.id,
      amount,
      amountRefunded: 0,
      status: method === 'card' ? 'succeeded' : 'pending',
      disputed: false,
      method,
      billingEmail: email,
    };
    intent.latestCharge = charge.id;
    this.paymentIntents.set(intent.id, intent);
    this.charges.set(charge.id, charge);
    return intent;
  }

  /** The charge a control command names (by charge, payment intent or Checkout Session). */
  resolveCharge(target: ChargeTarget): ChargeRecord {
    if (target.charge) return this.charge(target.charge, 'charge');
    const intentId = target.paymentIntent ?? (target.session ? this.checkoutSession(target.session).paymentIntent : null);
    if (!intentId) throw invalidRequest('Name a charge, a payment intent, or a paid payment-mode Checkout Session.', 'charge');
    const chargeId = this.paymentIntent(intentId, 'payment_intent').latestCharge;
    if (!chargeId) throw invalidRequest(`Payment intent ${intentId} has no charge.`, 'payment_intent');
    return this.charge(chargeId);
  }

  /** The newest succeeded charge of a customer (CLI: refund or dispute "the last top-up"). */
  latestChargeOf(customerId: string): ChargeRecord | undefined {
    return [...this.charges.values()].filter((c) => c.customer === customerId && c.status === 'succeeded').sort((a, b) => b.seq - a.seq)[0];
  }

  /** POST /v1/refunds (the dashboard's Refund button too): charge.refunded, then refund.created. */
  createRefund(input: ChargeTarget & { amount?: number; reason?: RefundRecord['reason']; metadata?: Record<string, string> }): RefundRecord {
    const charge = this.resolveCharge(input);
    if (charge.status !== 'succeeded') throw invalidRequest(`Charge ${charge.id} cannot be refunded: it has not succeeded (${charge.status}).`, 'charge');
    const left = charge.amount - charge.amountRefunded;
    if (left <= 0) throw invalidRequest(`Charge ${charge.id} has already been refunded.`, 'charge', 'charge_already_refunded');
    const amount = input.amount ?? left;
    if (amount > left) {
      throw invalidRequest(`Refund amount (${usd(amount)}) is greater than unrefunded amount on charge (${usd(left)})`, 'amount');
    }
    const refund: RefundRecord = {
      id: newId('re', 24),
      seq: this.nextSeq(),
      created: this.now(),
      charge: charge.id,
      paymentIntent: charge.paymentIntent,
      customer: charge.customer,
      amount,
      reason: input.reason ?? null,
      metadata: input.metadata ?? {},
    };
    this.refunds.set(refund.id, refund);
    charge.amountRefunded += amount;
    this.emit('charge.refunded', this.renderCharge(charge.id));
    this.emit('refund.created', this.renderRefund(refund.id));
    return refund;
  }

  /** Control: the cardholder's bank opens a dispute for the whole charge (charge.dispute.created). */
  openDispute(target: ChargeTarget, reason = 'fraudulent'): DisputeRecord {
    const charge = this.resolveCharge(target);
    if (charge.status !== 'succeeded') throw invalidRequest(`Charge ${charge.id} was never paid; there is nothing to dispute.`);
    if (this.openDisputeOf(charge.id)) throw invalidRequest(`Charge ${charge.id} already has an open dispute.`);
    if (charge.amountRefunded >= charge.amount) throw invalidRequest(`Charge ${charge.id} was fully refunded; there is nothing left to dispute.`);
    const dispute: DisputeRecord = {
      id: newId('dp', 24),
      seq: this.nextSeq(),
      created: this.now(),
      charge: charge.id,
      paymentIntent: charge.paymentIntent,
      amount: charge.amount - charge.amountRefunded,
      status: 'needs_response',
      reason,
    };
    this.disputes.set(dispute.id, dispute);
    charge.disputed = true;
    this.emit('charge.dispute.created', this.renderDispute(dispute.id));
    return dispute;
  }

  openDisputeOf(chargeId: string): DisputeRecord | undefined {
    return [...this.disputes.values()].find((d) => d.charge === chargeId && (d.status === 'needs_response' || d.status === 'under_review'));
  }

  /** Control: the bank decides (charge.dispute.closed with status won or lost). */
  closeDispute(id: string, outcome: 'won' | 'lost'): DisputeRecord {
    const dispute = this.dispute(id);
    if (dispute.status === 'won' || dispute.status === 'lost') throw invalidRequest(`Dispute ${id} is already closed (${dispute.status}).`);
    dispute.status = outcome;
    this.emit('charge.dispute.closed', this.renderDispute(dispute.id));
    return dispute;
  }

  renderPaymentIntent(id: string): Json {
    const pi = this.paymentIntent(id);
    return {
      id: pi.id,
      object: 'payment_intent',
      allowed_payment_method_types: null,
      amount: pi.amount,
      amount_capturable: 0,
      amount_received: pi.status === 'succeeded' ? pi.amount : 0,
      application: null,
      application_fee_amount: null,
      automatic_payment_methods: null,
      canceled_at: null,
      cancellation_reason: null,
      capture_method: 'automatic',
      client_secret: `${pi.id}_secret_${pi.id.slice(3, 15)}`,
      confirmation_method: 'automatic',
      created: pi.created,
      currency: 'usd',
      customer: pi.customer,
      customer_account: null,
      description: null,
      excluded_payment_method_types: null,
      last_payment_error:
        pi.status === 'requires_payment_method'
          ? { code: 'payment_method_provider_decline', message: 'The bank debit was returned (local Stripe emulator).', type: 'card_error' }
          : null,
      latest_charge: pi.latestCharge,
      livemode: false,
      managed_payments: null,
      metadata: { ...pi.metadata },
      next_action: null,
      on_behalf_of: null,
      payment_method: null,
      payment_method_configuration_details: null,
      payment_method_options: null,
      payment_method_types: [pi.method],
      payment_record: null,
      processing: null,
      receipt_email: null,
      review: null,
      setup_future_usage: null,
      shipping: null,
      source: null,
      statement_descriptor: null,
      statement_descriptor_suffix: null,
      status: pi.status,
      transfer_group: null,
    };
  }

  renderCharge(id: string): Json {
    const c = this.charge(id);
    return {
      id: c.id,
      object: 'charge',
      amount: c.amount,
      amount_captured: c.status === 'succeeded' ? c.amount : 0,
      amount_refunded: c.amountRefunded,
      application: null,
      application_fee: null,
      application_fee_amount: null,
      balance_transaction: null,
      billing_details: {
        address: { city: null, country: null, line1: null, line2: null, postal_code: null, state: null },
        email: c.billingEmail,
        name: null,
        phone: null,
        tax_id: null,
      },
      calculated_statement_descriptor: 'LOCAL EMULATOR',
      captured: c.status === 'succeeded',
      created: c.created,
      currency: 'usd',
      customer: c.customer,
      description: null,
      disputed: c.disputed,
      failure_balance_transaction: null,
      failure_code: c.status === 'failed' ? 'debit_not_authorized' : null,
      failure_message: c.status === 'failed' ? 'The bank debit was returned (local Stripe emulator).' : null,
      fraud_details: {},
      livemode: false,
      metadata: {},
      on_behalf_of: null,
      outcome: null,
      paid: c.status === 'succeeded',
      payment_intent: c.paymentIntent,
      payment_method: null,
      payment_method_details: null,
      receipt_email: null,
      receipt_number: null,
      receipt_url: null,
      refunded: c.amountRefunded >= c.amount && c.amount > 0,
      review: null,
      shipping: null,
      source: null,
      source_transfer: null,
      statement_descriptor: null,
      statement_descriptor_suffix: null,
      status: c.status,
      transfer_data: null,
      transfer_group: null,
    };
  }

  renderRefund(id: string): Json {
    const r = this.refund(id);
    return {
      id: r.id,
      object: 'refund',
      amount: r.amount,
      balance_transaction: null,
      charge: r.charge,
      created: r.created,
      currency: 'usd',
      customer: r.customer,
      customer_account: null,
      metadata: { ...r.metadata },
      payment_intent: r.paymentIntent,
      payment_method: null,
      reason: r.reason,
      receipt_number: null,
      source_transfer_reversal: null,
      status: 'succeeded',
      transfer_reversal: null,
    };
  }

  renderDispute(id: string): Json {
    const d = this.dispute(id);
    const evidence = Object.fromEntries(
      [
        'access_activity_log', 'billing_address', 'cancellation_policy', 'cancellation_policy_disclosure', 'cancellation_rebuttal',
        'customer_communication', 'customer_email_address', 'customer_name', 'customer_purchase_ip', 'customer_signature',
        'duplicate_charge_documentation', 'duplicate_charge_explanation', 'duplicate_charge_id', 'product_description', 'receipt',
        'refund_policy', 'refund_policy_disclosure', 'refund_refusal_explanation', 'service_date', 'service_documentation',
        'shipping_address', 'shipping_carrier', 'shipping_date', 'shipping_documentation', 'shipping_tracking_number',
        'uncategorized_file', 'uncategorized_text',
      ].map((k) => [k, null]),
    );
    return {
      id: d.id,
      object: 'dispute',
      amount: d.amount,
      balance_transactions: [],
      charge: d.charge,
      created: d.created,
      currency: 'usd',
      enhanced_eligibility_types: [],
      evidence: { ...evidence, enhanced_evidence: {} },
      evidence_details: {
        due_by: d.status === 'needs_response' ? d.created + 7 * DAY : null,
        enhanced_eligibility: {},
        has_evidence: false,
        past_due: false,
        submission_count: 0,
        submission_method: 'not_submitted',
      },
      intended_submission_method: null,
      is_charge_refundable: false,
      livemode: false,
      metadata: {},
      payment_intent: d.paymentIntent,
      reason: d.reason,
      status: d.status,
    };
  }

  listCharges(filter: { customer?: string; paymentIntent?: string }): ChargeRecord[] {
    return [...this.charges.values()]
      .filter((c) => (filter.customer ? c.customer === filter.customer : true))
      .filter((c) => (filter.paymentIntent ? c.paymentIntent === filter.paymentIntent : true))
      .sort((a, b) => b.seq - a.seq);
  }

  listRefunds(filter: { charge?: string; paymentIntent?: string }): RefundRecord[] {
    return [...this.refunds.values()]
      .filter((r) => (filter.charge ? r.charge === filter.charge : true))
      .filter((r) => (filter.paymentIntent ? r.paymentIntent === filter.paymentIntent : true))
      .sort((a, b) => b.seq - a.seq);
  }

  listDisputes(filter: { charge?: string; paymentIntent?: string }): DisputeRecord[] {
    return [...this.disputes.values()]
      .filter((d) => (filter.charge ? d.charge === filter.charge : true))
      .filter((d) => (filter.paymentIntent ? d.paymentIntent === filter.paymentIntent : true))
      .sort((a, b) => b.seq - a.seq);
  }

  // ---------------------------------------------------------------- billing portal

  createPortalSession(customerId: string, returnUrl: string | null): PortalSessionRecord {
    this.liveCustomer(customerId, 'customer');
    const session: PortalSessionRecord = { id: newId('bps'), created: this.now(), customer: customerId, returnUrl };
    this.portalSessions.set(session.id, session);
    return session;
  }

  portalSession(id: string): PortalSessionRecord {
    const session = this.portalSessions.get(id);
    if (!session) throw resourceMissing('billing_portal.session', id);
    return session;
  }

  renderPortalSession(id: string): Json {
    const s = this.portalSession(id);
    return {
      id: s.id,
      object: 'billing_portal.session',
      configuration: 'bpc_local_default',
      created: s.created,
      customer: s.customer,
      customer_account: null,
      flow: null,
      livemode: false,
      locale: null,
      on_behalf_of: null,
      return_url: s.returnUrl,
      url: `${this.baseUrl()}/billing_portal/${s.id}`,
    };
  }

  // ---------------------------------------------------------------- lookups

  /** Renders any object by id (for `expand`); undefined for ids this emulator does not hold. */
  renderById(id: string): Json | undefined {
    try {
      if (id.startsWith('cus_')) return this.renderCustomer(id);
      if (id.startsWith('sub_')) return this.renderSubscription(id);
      if (id.startsWith('in_')) return this.renderInvoice(id);
      if (id.startsWith('price_') && this.prices.has(id)) return this.renderPrice(id);
      if (id.startsWith('prod_') && this.products.has(id)) return this.renderProduct(id);
      if (id.startsWith('cs_')) return this.renderCheckoutSession(id);
      if (id.startsWith('bps_')) return this.renderPortalSession(id);
      if (id.startsWith('pi_')) return this.renderPaymentIntent(id);
      if (id.startsWith('ch_')) return this.renderCharge(id);
      if (id.startsWith('re_')) return this.renderRefund(id);
      if (id.startsWith('dp_')) return this.renderDispute(id);
    } catch (err) {
      if (err instanceof StripeApiError) return undefined;
      throw err;
    }
    return undefined;
  }

  /** Control `subscribe`: the price a tier name (or alias) or price id stands for. */
  resolvePrice(input: { price?: string; tier?: string }): string {
    if (input.price) return this.price(input.price, 'price').id;
    if (input.tier) {
      const price = tierPrice(input.tier);
      if (!price) throw invalidRequest(`Unknown tier '${input.tier}': use basic, pro or enterprise.`, 'tier');
      return price;
    }
    throw invalidRequest('Give a price or a tier.', 'price');
  }
}
