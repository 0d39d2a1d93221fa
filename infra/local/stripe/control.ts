/**
 * The emulator's control API (`/_emulator/*`, local only, JSON, no auth):
 * what a customer or time would do in real Stripe (pay a Checkout page,
 * renew, fail a payment), plus switches for webhook delivery and the clock,
 * on top of the calls and faults every local emulator serves
 * (infra/local/http.ts). `StripeEmulatorControl` is its typed HTTP client,
 * shared by the tests and `npm run stripe`; a running emulator object
 * implements the same interface in-process.
 */
import { EmulatorControl, type EmulatorControlApi } from '../http';
import type { DeliverySettings, EventLogEntry } from './delivery';

/** A Stripe API object as JSON (customer, subscription, invoice, ...). */
export type StripeObject = Record<string, any>;

export interface SubscribeRequest {
  /** The customer's email: the newest customer with it (case-insensitive), or a new one. */
  email?: string;
  /** Or an existing customer id. */
  customer?: string;
  /** A price id, or */
  price?: string;
  /** a tier: basic, pro, enterprise (aliases creator, agency). */
  tier?: string;
  trialDays?: number;
  metadata?: Record<string, string>;
  /**
   * Create it even though the customer already has a live subscription, as the
   * Stripe dashboard lets an operator do (a second, separately billed subscription).
   */
  another?: boolean;
}

export interface CheckoutCompletion {
  session: StripeObject;
  customer: StripeObject | null;
  subscription: StripeObject | null;
  invoice: StripeObject | null;
}

export interface SubscriptionChange {
  subscription: StripeObject;
  invoice: StripeObject | null;
}

export interface CustomerSummary {
  customer: StripeObject;
  /** Every subscription of the customer, canceled ones included, newest first. */
  subscriptions: StripeObject[];
}

/** One `/v1` request as the call log records it. */
export interface StripeApiCall {
  at: string;
  /** Method and path template: `POST /v1/customers/:id`. */
  operation: string;
  path: string;
}

export interface FlushResult {
  delivered: number;
  failed: number;
  pending: number;
}

export interface EmulatorClock {
  /** The emulator's time, epoch seconds (stamps objects and events; ages idempotency keys). */
  now: number;
  /** How far it was advanced past real time. */
  offsetSeconds: number;
}

/** The charge a refund or dispute is about: by id, by payment intent, by Checkout Session, or the newest paid charge of a customer (email). */
export interface ChargeSelector {
  charge?: string;
  paymentIntent?: string;
  session?: string;
  email?: string;
}

export interface StripeEmulatorControlApi extends EmulatorControlApi<StripeApiCall> {
  /** `delayed`: paid with a bank debit: the session completes `unpaid` until asyncPayment settles it. */
  completeCheckout(sessionId: string, options?: { email?: string; delayed?: boolean }): Promise<CheckoutCompletion>;
  /** The delayed payment of a completed Checkout Session settles (checkout.session.async_payment_succeeded / _failed). */
  asyncPayment(sessionId: string, outcome: 'succeeded' | 'failed'): Promise<CheckoutCompletion>;
  /** A refund from the dashboard (charge.refunded, refund.created); without amount the rest of the charge. */
  refund(target: ChargeSelector & { amount?: number }): Promise<{ refund: StripeObject; charge: StripeObject }>;
  /** The bank opens a dispute on the charge (charge.dispute.created). */
  openDispute(target: ChargeSelector): Promise<{ dispute: StripeObject; charge: StripeObject }>;
  /** The dispute (by id, or the open one of the charge) is decided (charge.dispute.closed). */
  closeDispute(target: ChargeSelector & { dispute?: string }, outcome: 'won' | 'lost'): Promise<{ dispute: StripeObject; charge: StripeObject }>;
  subscribe(request: SubscribeRequest): Promise<{ customer: StripeObject; subscription: StripeObject }>;
  changePrice(subscriptionId: string, target: { price?: string; tier?: string }): Promise<StripeObject>;
  advance(subscriptionId: string): Promise<SubscriptionChange>;
  failPayment(subscriptionId: string, options?: { final?: boolean }): Promise<SubscriptionChange>;
  recover(subscriptionId: string): Promise<SubscriptionChange>;
  cancel(subscriptionId: string, options?: { atPeriodEnd?: boolean }): Promise<StripeObject>;
  resume(subscriptionId: string): Promise<StripeObject>;
  customers(email: string): Promise<CustomerSummary[]>;
  /** Deleted in the dashboard: its subscriptions are canceled first (customer.subscription.deleted each), then customer.deleted. */
  deleteCustomer(customerId: string): Promise<CustomerSummary>;
  events(filter?: { type?: string }): Promise<EventLogEntry[]>;
  resend(eventId: string): Promise<EventLogEntry>;
  delivery(settings?: Partial<DeliverySettings>): Promise<DeliverySettings>;
  flush(): Promise<FlushResult>;
  /** Reads the clock, or moves it forward (e.g. 86400: saved idempotency keys expire). */
  clock(change?: { advanceSeconds?: number }): Promise<EmulatorClock>;
}

export class StripeEmulatorControl extends EmulatorControl<StripeApiCall> implements StripeEmulatorControlApi {
  private static id(value: string): string {
    return encodeURIComponent(value);
  }

  completeCheckout(sessionId: string, options: { email?: string; delayed?: boolean } = {}) {
    return this.request<CheckoutCompletion>('POST', `/checkout/${StripeEmulatorControl.id(sessionId)}/complete`, options);
  }
  asyncPayment(sessionId: string, outcome: 'succeeded' | 'failed') {
    return this.request<CheckoutCompletion>('POST', `/checkout/${StripeEmulatorControl.id(sessionId)}/async-payment`, { outcome });
  }
  refund(target: ChargeSelector & { amount?: number }) {
    return this.request<{ refund: StripeObject; charge: StripeObject }>('POST', '/refunds', target);
  }
  openDispute(target: ChargeSelector) {
    return this.request<{ dispute: StripeObject; charge: StripeObject }>('POST', '/disputes', target);
  }
  closeDispute(target: ChargeSelector & { dispute?: string }, outcome: 'won' | 'lost') {
    return this.request<{ dispute: StripeObject; charge: StripeObject }>('POST', '/disputes/close', { ...target, outcome });
  }
  subscribe(request: SubscribeRequest) {
    return this.request<{ customer: StripeObject; subscription: StripeObject }>('POST', '/subscribe', request);
  }
  changePrice(subscriptionId: string, target: { price?: string; tier?: string }) {
    return this.request<StripeObject>('POST', `/subscriptions/${StripeEmulatorControl.id(subscriptionId)}/change-price`, target);
  }
  advance(subscriptionId: string) {
    return this.request<SubscriptionChange>('POST', `/subscriptions/${StripeEmulatorControl.id(subscriptionId)}/advance`, {});
  }
  failPayment(subscriptionId: string, options: { final?: boolean } = {}) {
    return this.request<SubscriptionChange>('POST', `/subscriptions/${StripeEmulatorControl.id(subscriptionId)}/fail-payment`, options);
  }
  recover(subscriptionId: string) {
    return this.request<SubscriptionChange>('POST', `/subscriptions/${StripeEmulatorControl.id(subscriptionId)}/recover`, {});
  }
  cancel(subscriptionId: string, options: { atPeriodEnd?: boolean } = {}) {
    return this.request<StripeObject>('POST', `/subscriptions/${StripeEmulatorControl.id(subscriptionId)}/cancel`, options);
  }
  resume(subscriptionId: string) {
    return this.request<StripeObject>('POST', `/subscriptions/${StripeEmulatorControl.id(subscriptionId)}/resume`, {});
  }
  customers(email: string) {
    return this.request<CustomerSummary[]>('GET', `/customers?email=${encodeURIComponent(email)}`);
  }
  deleteCustomer(customerId: string) {
    return this.request<CustomerSummary>('POST', `/customers/${StripeEmulatorControl.id(customerId)}/delete`, {});
  }
  events(filter: { type?: string } = {}) {
    return this.request<EventLogEntry[]>('GET', `/events${filter.type ? `?type=${encodeURIComponent(filter.type)}` : ''}`);
  }
  resend(eventId: string) {
    return this.request<EventLogEntry>('POST', `/events/${StripeEmulatorControl.id(eventId)}/resend`, {});
  }
  delivery(settings?: Partial<DeliverySettings>) {
    return settings ? this.request<DeliverySettings>('POST', '/delivery', settings) : this.request<DeliverySettings>('GET', '/delivery');
  }
  flush() {
    return this.request<FlushResult>('POST', '/delivery/flush', {});
  }
  clock(change?: { advanceSeconds?: number }) {
    return change ? this.request<EmulatorClock>('POST', '/clock', change) : this.request<EmulatorClock>('GET', '/clock');
  }
}
