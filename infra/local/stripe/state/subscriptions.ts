/** Subscriptions: create, change items, trials and cancellation, renew, fail and recover payment. */
import type { PriceRecord } from '../catalog';
import { invalidRequest, resourceMissing } from '../errors';
import { newId } from '../ids';
import { type Interval, periodEnd, periodStart } from '../periods';
import { renderInvoice, renderSubscription } from '../render';
import { InvoiceModels } from './invoices';
import { ACTIVE_LIKE, clone, DAY, type InvoiceRecord, type ItemChange, type NewSubscription, previousAttributes, type SubscriptionRecord } from './records';

export abstract class SubscriptionModels extends InvoiceModels {
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

    this.emit('customer.subscription.created', renderSubscription(this.self, sub.id));
    if (invoice.status === 'paid') this.emit('invoice.paid', renderInvoice(this.self, invoice.id));
    return { subscription: sub, invoice };
  }

  /** Runs `change`, then emits customer.subscription.updated with what changed (if anything did). */
  private updateSubscription(sub: SubscriptionRecord, change: () => void): void {
    const before = renderSubscription(this.self, sub.id);
    const backup = clone(sub);
    try {
      change();
    } catch (err) {
      Object.assign(sub, backup);
      throw err;
    }
    const after = renderSubscription(this.self, sub.id);
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
    for (const invoice of extraInvoice) this.emit('invoice.paid', renderInvoice(this.self, invoice.id));
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
    this.emit('customer.subscription.deleted', renderSubscription(this.self, sub.id));
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
      this.emit('customer.subscription.deleted', renderSubscription(this.self, sub.id));
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
    this.emit('invoice.paid', renderInvoice(this.self, paid.id));
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
    const before = renderSubscription(this.self, sub.id);
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
    this.emit('invoice.payment_failed', renderInvoice(this.self, invoice.id));
    const after = renderSubscription(this.self, sub.id);
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
    this.emit('invoice.paid', renderInvoice(this.self, invoice.id));
    this.updateSubscription(sub, () => {
      sub.status = sub.trialEnd !== null && sub.cycle === -1 ? 'trialing' : 'active';
    });
    return { subscription: sub, invoice };
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
}
