import { randomUUID } from 'node:crypto';

/**
 * Ko-fi payments as Ko-fi sends them (its webhook docs: a form post whose
 * `data` field is the payment JSON, every field present, `null` where a
 * payment has none), for `npm run kofi` and the tests.
 */
export interface KofiPaymentOptions {
  email: string;
  verificationToken: string;
  /** Donation (the default without a tier), Subscription, Commission, Shop Order. */
  type?: 'Donation' | 'Subscription' | 'Commission' | 'Shop Order';
  tierName?: string | null;
  firstPayment?: boolean;
  amount?: string;
  currency?: string;
  timestamp?: Date;
  messageId?: string;
  transactionId?: string;
}

export function kofiPayment(options: KofiPaymentOptions): Record<string, unknown> {
  const type = options.type ?? 'Subscription';
  const subscription = type === 'Subscription';
  const transactionId = options.transactionId ?? randomUUID();
  return {
    verification_token: options.verificationToken,
    message_id: options.messageId ?? randomUUID(),
    // Ko-fi's timestamps carry whole seconds.
    timestamp: (options.timestamp ?? new Date()).toISOString().replace(/\.\d{3}Z$/, 'Z'),
    type,
    is_public: true,
    from_name: 'Ko-fi Supporter',
    message: subscription ? null : 'Thanks for the app!',
    amount: options.amount ?? (subscription ? '5.00' : '3.00'),
    url: `https://ko-fi.com/Home/CoffeeShop?txid=${transactionId}`,
    email: options.email,
    currency: options.currency ?? 'USD',
    is_subscription_payment: subscription,
    is_first_subscription_payment: subscription && (options.firstPayment ?? true),
    kofi_transaction_id: transactionId,
    shop_items: type === 'Shop Order' ? [{ direct_link_code: '1a2b3c4d5e', variation_name: 'Blue', quantity: 1 }] : null,
    tier_name: subscription ? (options.tierName ?? null) : null,
    shipping: null,
  };
}

/** The body Ko-fi posts: `data=<url-encoded JSON>`. */
export function kofiForm(payment: Record<string, unknown>): string {
  return new URLSearchParams({ data: JSON.stringify(payment) }).toString();
}

/** POSTs a payment to a webhook URL the way Ko-fi does; the status and the body text. */
export async function postKofiPayment(webhookUrl: string, payment: Record<string, unknown>): Promise<{ status: number; body: string }> {
  const res = await fetch(webhookUrl, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: kofiForm(payment) });
  return { status: res.status, body: await res.text() };
}
