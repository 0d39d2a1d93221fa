/** Invoices: one per subscription cycle, paid or open; their lines and amounts. */
import { resourceMissing } from '../errors';
import { newId } from '../ids';
import { periodEnd, periodStart } from '../periods';
import { CustomerModels } from './customers';
import { type InvoiceLine, type InvoiceRecord, type ItemRecord, type SubscriptionRecord, usd } from './records';

export abstract class InvoiceModels extends CustomerModels {
  protected createInvoice(
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

  protected payInvoice(invoice: InvoiceRecord): void {
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

  listInvoices(filter: { customer?: string; subscription?: string; status?: string }): InvoiceRecord[] {
    return [...this.invoices.values()]
      .filter((i) => (filter.customer ? i.customer === filter.customer : true))
      .filter((i) => (filter.subscription ? i.subscription === filter.subscription : true))
      .filter((i) => (filter.status ? i.status === filter.status : true))
      .sort((a, b) => b.seq - a.seq);
  }
}
