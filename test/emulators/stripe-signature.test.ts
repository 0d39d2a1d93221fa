import Stripe from 'stripe';
import {
  computeStripeSignature,
  parseStripeSignatureHeader,
  stripeSignatureHeader,
  verifyStripeSignature,
} from '../../infra/local/stripe/signature';

const secret = 'whsec_test_secret';
const payload = JSON.stringify({ id: 'evt_1', object: 'event', type: 'customer.created', data: { object: { id: 'cus_1' } } }, null, 2);

describe('Stripe-Signature', () => {
  it('is t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<payload>">', () => {
    const header = stripeSignatureHeader(payload, secret, 1_700_000_000);
    expect(header).toMatch(/^t=1700000000,v1=[0-9a-f]{64}$/);
    expect(header).toBe(`t=1700000000,v1=${computeStripeSignature(payload, secret, 1_700_000_000)}`);
  });

  it('is accepted by stripe-node constructEvent', () => {
    const header = stripeSignatureHeader(payload, secret);
    const event = Stripe.webhooks.constructEvent(payload, header, secret);
    expect(event.id).toBe('evt_1');
  });

  it('is refused by stripe-node for another secret, a changed body or an old timestamp', () => {
    const header = stripeSignatureHeader(payload, secret);
    expect(() => Stripe.webhooks.constructEvent(payload, header, 'whsec_other')).toThrow();
    expect(() => Stripe.webhooks.constructEvent(payload.replace('cus_1', 'cus_2'), header, secret)).toThrow();
    const old = stripeSignatureHeader(payload, secret, Math.floor(Date.now() / 1000) - 600);
    expect(() => Stripe.webhooks.constructEvent(payload, old, secret)).toThrow(/tolerance/i);
  });

  it('verifies headers made by stripe-node test helpers', () => {
    const header = Stripe.webhooks.generateTestHeaderString({ payload, secret });
    expect(verifyStripeSignature(payload, header, secret)).toBe(true);
    expect(verifyStripeSignature(`${payload} `, header, secret)).toBe(false);
  });

  it('parses every v1 signature and ignores other schemes', () => {
    expect(parseStripeSignatureHeader('t=12,v1=aa,v0=zz,v1=bb')).toEqual({ timestamp: 12, signatures: ['aa', 'bb'] });
    expect(parseStripeSignatureHeader('v1=aa')).toBeUndefined();
    expect(parseStripeSignatureHeader('t=12')).toBeUndefined();
  });

  it('applies the tolerance unless it is 0', () => {
    const header = stripeSignatureHeader(payload, secret, 1000);
    expect(verifyStripeSignature(payload, header, secret, { nowSec: 1200 })).toBe(true);
    expect(verifyStripeSignature(payload, header, secret, { nowSec: 1400 })).toBe(false);
    expect(verifyStripeSignature(payload, header, secret, { nowSec: 99_999, toleranceSec: 0 })).toBe(true);
  });
});
