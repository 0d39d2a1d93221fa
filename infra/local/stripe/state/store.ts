/** The account's records in memory, its clock, its event sink and its id sequence. */
import { CATALOG, type PriceRecord, type ProductRecord } from '../catalog';
import type { StripeState } from './index';
import { clone, type ChargeRecord, type CheckoutSessionRecord, type CustomerRecord, type DisputeRecord, type EmitEvent, type InvoiceRecord, type PaymentIntentRecord, type PortalSessionRecord, type RefundRecord, type SubscriptionRecord } from './records';

export abstract class StripeStore {
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
  readonly now: () => number;
  protected readonly emit: EmitEvent;
  readonly baseUrl: () => string;

  /** `seed`: products and prices beyond the built-in catalogue (the catalogue file's "local" prices: catalogueSeed in catalog.ts). */
  constructor(options: { now?: () => number; emit: EmitEvent; baseUrl: () => string; seed?: { products: ProductRecord[]; prices: PriceRecord[] } }) {
    this.now = options.now ?? (() => Math.floor(Date.now() / 1000));
    this.emit = options.emit;
    this.baseUrl = options.baseUrl;
    const created = this.now();
    for (const product of CATALOG.products) this.products.set(product.id, { ...clone(product), active: true, created });
    for (const price of CATALOG.prices) this.prices.set(price.id, { ...clone(price), active: true, created });
    for (const product of options.seed?.products ?? []) if (!this.products.has(product.id)) this.products.set(product.id, { ...clone(product), active: true, created });
    for (const price of options.seed?.prices ?? []) if (!this.prices.has(price.id)) this.prices.set(price.id, { ...clone(price), active: true, created });
  }

  protected nextSeq(): number {
    return ++this.seq;
  }

  /**
   * The models are layers of one account (prices, customers, ... checkout);
   * renderers and the few calls to a later layer take the whole of it.
   */
  protected get self(): StripeState {
    return this as unknown as StripeState;
  }
}
