/** Payments of one-time Checkout: payment intents, charges, refunds and disputes. */
import { invalidRequest, resourceMissing } from '../errors';
import { newId } from '../ids';
import { renderCharge, renderDispute, renderRefund } from '../render';
import { type ChargeRecord, type ChargeTarget, type CheckoutSessionRecord, type DisputeRecord, type PaymentIntentRecord, type PaymentMethodKind, type RefundRecord, usd } from './records';
import { SubscriptionModels } from './subscriptions';

export abstract class PaymentModels extends SubscriptionModels {
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
  protected createPaymentIntent(session: CheckoutSessionRecord, method: PaymentMethodKind, email: string | null): PaymentIntentRecord {
    const now = this.now();
    const amount = this.self.sessionAmount(session);
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
    const intentId = target.paymentIntent ?? (target.session ? this.self.checkoutSession(target.session).paymentIntent : null);
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
    this.emit('charge.refunded', renderCharge(this.self, charge.id));
    this.emit('refund.created', renderRefund(this.self, refund.id));
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
    this.emit('charge.dispute.created', renderDispute(this.self, dispute.id));
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
    this.emit('charge.dispute.closed', renderDispute(this.self, dispute.id));
    return dispute;
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
}
