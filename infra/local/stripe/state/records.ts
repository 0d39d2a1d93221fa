/** The records the emulator keeps per resource, and the helpers every model shares. */
import type { FormObject } from '../form';
import { periodEnd, periodStart } from '../periods';

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

export const ACTIVE_LIKE: SubscriptionStatus[] = ['trialing', 'active', 'past_due', 'unpaid', 'incomplete', 'paused'];
export const DAY = 86_400;

export const clone = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;

/** Top-level keys whose values differ, with their old values: Stripe's `previous_attributes`. */
export function previousAttributes(before: Json, after: Json): Json {
  const previous: Json = {};
  for (const key of new Set([...Object.keys(before), ...Object.keys(after)])) {
    if (JSON.stringify(before[key]) !== JSON.stringify(after[key])) previous[key] = before[key] ?? null;
  }
  return previous;
}

export const usd = (cents: number) => `$${(cents / 100).toFixed(2)}`;
