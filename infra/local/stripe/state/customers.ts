/** Customers: create, update, delete (which cancels their subscriptions first), look up by email. */
import { resourceMissing } from '../errors';
import { newId, randomToken } from '../ids';
import { renderCustomer } from '../render';
import { PriceModels } from './prices';
import { type CustomerRecord, previousAttributes } from './records';

export abstract class CustomerModels extends PriceModels {
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
    this.emit('customer.created', renderCustomer(this.self, customer.id, { full: true }));
    return customer;
  }

  /** Applies already-validated fields; emits customer.updated when something changed. */
  updateCustomer(id: string, change: (c: CustomerRecord) => void): CustomerRecord {
    const customer = this.liveCustomer(id);
    const before = renderCustomer(this.self, id);
    change(customer);
    const after = renderCustomer(this.self, id);
    const previous = previousAttributes(before, after);
    if (Object.keys(previous).length > 0) this.emit('customer.updated', after, previous);
    return customer;
  }

  /** Like Stripe: cancels the customer's subscriptions first (each emits customer.subscription.deleted). */
  deleteCustomer(id: string): void {
    const customer = this.liveCustomer(id);
    for (const sub of this.self.subscriptionsOf(id)) {
      if (sub.status !== 'canceled' && sub.status !== 'incomplete_expired') this.self.cancelSubscription(sub.id, { reason: 'cancellation_requested' });
    }
    const full = renderCustomer(this.self, id, { full: true });
    customer.deleted = true;
    this.emit('customer.deleted', full);
  }

  /** Customers with this exact email, newest first (Stripe's `email` filter is case-sensitive). */
  customersByEmail(email: string, { caseInsensitive = false } = {}): CustomerRecord[] {
    const wanted = caseInsensitive ? email.trim().toLowerCase() : email;
    return [...this.customers.values()]
      .filter((c) => !c.deleted && (caseInsensitive ? c.email?.toLowerCase() === wanted : c.email === wanted))
      .sort((a, b) => b.seq - a.seq);
  }
}
