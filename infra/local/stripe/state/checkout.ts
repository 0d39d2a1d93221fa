/** Checkout Sessions: create, complete (paid now or by a delayed bank debit), settle, expire. */
import { invalidRequest, resourceMissing } from '../errors';
import { randomToken } from '../ids';
import { renderCheckoutSession } from '../render';
import { PaymentModels } from './payments';
import { type CheckoutSessionRecord, DAY } from './records';

export abstract class CheckoutModels extends PaymentModels {
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

  sessionAmount(session: CheckoutSessionRecord): number {
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
    this.emit('checkout.session.completed', renderCheckoutSession(this.self, session.id));
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
    this.emit(`checkout.session.async_payment_${outcome}`, renderCheckoutSession(this.self, session.id));
    return session;
  }

  expireCheckoutSession(id: string): CheckoutSessionRecord {
    const session = this.checkoutSession(id);
    if (session.status !== 'open') throw invalidRequest(`Only Checkout Sessions with a status in ["open"] can be expired. This Checkout Session has a status of "${session.status}".`);
    session.status = 'expired';
    this.emit('checkout.session.expired', renderCheckoutSession(this.self, session.id));
    return session;
  }

  listCheckoutSessions(filter: { customer?: string; subscription?: string; status?: string; paymentIntent?: string }): CheckoutSessionRecord[] {
    return [...this.checkoutSessions.values()]
      .filter((s) => (filter.customer ? s.customer === filter.customer : true))
      .filter((s) => (filter.subscription ? s.subscription === filter.subscription : true))
      .filter((s) => (filter.status ? s.status === filter.status : true))
      .filter((s) => (filter.paymentIntent ? s.paymentIntent === filter.paymentIntent : true))
      .sort((a, b) => b.seq - a.seq);
  }
}
