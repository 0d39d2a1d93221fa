import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { catalogueOf, type CatalogueFileInput } from '../../shared/domain/catalogue';
import {
  addCalendarMonth,
  DEFAULT_KOFI_RULES,
  deliveryIds,
  defaultKofiRules,
  grantOf,
  isUnsetVerificationToken,
  lowestPremiumPlan,
  parseKofiData,
  paymentRecordOf,
  planForTier,
  verificationTokenMatches,
  type KofiPayment,
} from '../../shared/domain/kofi';

const fixture = (name: string) => readFileSync(join(__dirname, '..', 'fixtures', 'kofi', `${name}.json`), 'utf8');
const parsed = (json: string) => {
  const result = parseKofiData(json);
  if (!result.ok) throw new Error(result.message);
  return result.payment;
};

describe("Ko-fi's payment data", () => {
  it.each(['subscription', 'donation', 'shop-order'])('accepts the %s Ko-fi sends (every field, nulls included, extra fields ignored)', (name) => {
    const result = parseKofiData(fixture(name));
    expect(result.ok).toBe(true);
    expect(result.token).toBe('8c8d4d1f-7c43-4a8c-9d4b-0c4d2b6f5e1a');
  });

  it('reads what the rules need from a subscription payment', () => {
    const payment = parsed(fixture('subscription'));
    expect(payment).toMatchObject({ type: 'Subscription', is_subscription_payment: true, tier_name: 'Gold', email: 'someone@example.com', amount: '5.00' });
  });

  it('takes the email as the supporter typed it (spaces, capitals) and normalises it', () => {
    expect(parsed(JSON.stringify({ ...JSON.parse(fixture('subscription')), email: '  Some.One@Example.COM ' })).email).toBe('some.one@example.com');
  });

  it.each([
    ['not JSON', 'data=oops', 'data'],
    ['an array', '[]', 'data'],
    ['no message id', { message_id: undefined }, 'data.message_id'],
    ['a timestamp that is not ISO', { timestamp: 'yesterday' }, 'data.timestamp'],
    ['no email', { email: undefined }, 'data.email'],
    ['an email that is not one', { email: 'someone' }, 'data.email'],
    ['is_subscription_payment as text', { is_subscription_payment: 'true' }, 'data.is_subscription_payment'],
    ['a transaction id that is not text', { kofi_transaction_id: 42 }, 'data.kofi_transaction_id'],
  ])('refuses %s, naming the field', (_what, change, field) => {
    const json = typeof change === 'string' ? change : JSON.stringify({ ...JSON.parse(fixture('subscription')), ...change });
    const result = parseKofiData(json);
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.field).toBe(field);
      expect(result.message.startsWith(`${field}:`)).toBe(true);
    }
  });

  it('still finds the token in a payment that is otherwise invalid (the token is checked first)', () => {
    const result = parseKofiData(JSON.stringify({ verification_token: 'tok', type: 'Subscription' }));
    expect(result).toMatchObject({ ok: false, token: 'tok' });
  });

  it('accepts a payment type Ko-fi adds later (recorded only)', () => {
    const payment = parsed(JSON.stringify({ ...JSON.parse(fixture('donation')), type: 'Gift' }));
    expect(grantOf(payment, DEFAULT_KOFI_RULES)).toBeUndefined();
  });
});

describe('the verification token', () => {
  it('matches only the exact token', () => {
    expect(verificationTokenMatches('s3cret-token', 's3cret-token')).toBe(true);
    expect(verificationTokenMatches('s3cret-tokeN', 's3cret-token')).toBe(false);
    expect(verificationTokenMatches('s3cret-token ', 's3cret-token')).toBe(false);
    expect(verificationTokenMatches('s3cret', 's3cret-token')).toBe(false);
    expect(verificationTokenMatches('', 's3cret-token')).toBe(false);
  });

  it('refuses what is not a string, and matches nothing when ours is empty', () => {
    for (const sent of [undefined, null, 42, ['s3cret-token'], { token: 's3cret-token' }]) expect(verificationTokenMatches(sent, 's3cret-token')).toBe(false);
    expect(verificationTokenMatches('', '')).toBe(false);
  });

  it('compares digests of equal length, whatever the lengths sent (no length short-cut)', () => {
    // timingSafeEqual throws on buffers of different lengths: a very long token must be a plain false.
    expect(verificationTokenMatches('x'.repeat(100_000), 's3cret-token')).toBe(false);
  });
});

describe('fields that decide nothing never lose a payment', () => {
  const withChanges = (name: string, changes: Record<string, unknown>) => JSON.stringify({ ...JSON.parse(fixture(name)), ...changes });

  it('an amount with thousands separators, or a number, is recorded as text', () => {
    expect(parsed(withChanges('subscription', { amount: '1,000.00' })).amount).toBe('1,000.00');
    expect(parsed(withChanges('donation', { amount: 5 })).amount).toBe('5');
    expect(parsed(withChanges('donation', { currency: null, type: null })).currency).toBe('');
  });

  it('a timestamp without a zone is read as UTC; one that is not a date-time is refused by name', () => {
    expect(parsed(withChanges('subscription', { timestamp: '2026-11-30T12:00:00' })).timestamp).toBe('2026-11-30T12:00:00Z');
    expect(parsed(withChanges('subscription', { timestamp: '2026-11-30T13:00:00+01:00' })).timestamp).toBe('2026-11-30T13:00:00+01:00');
    expect(parseKofiData(withChanges('subscription', { timestamp: 'yesterday' }))).toMatchObject({ ok: false, field: 'data.timestamp' });
  });

  it('a donation or shop order without an email (or with one that is not an address) is still a payment; a subscription needs its email', () => {
    expect(parsed(withChanges('donation', { email: null })).email).toBeNull();
    expect(parsed(withChanges('shop-order', { email: 'not-an-email' })).email).toBeNull();
    expect(parseKofiData(withChanges('subscription', { email: null }))).toMatchObject({ ok: false, field: 'data.email' });
    expect(parseKofiData(withChanges('donation', { email: null, type: 'Subscription' }))).toMatchObject({ ok: false, field: 'data.email' });
  });

  it('the message id stays required (it is what makes a delivery once); a missing transaction id leaves the message id alone', () => {
    expect(parseKofiData(withChanges('donation', { message_id: '' }))).toMatchObject({ ok: false, field: 'data.message_id' });
    const payment = parsed(withChanges('donation', { kofi_transaction_id: null }));
    expect(deliveryIds(payment)).toEqual([`message:${payment.message_id}`]);
  });
});

describe('an unset verification token', () => {
  it.each(['', '   ', 'REPLACE_ME', ' REPLACE_ME '])('%j is unset and matches nothing, not even itself', (token) => {
    expect(isUnsetVerificationToken(token)).toBe(true);
    expect(verificationTokenMatches(token, token)).toBe(false);
    expect(verificationTokenMatches('REPLACE_ME', token)).toBe(false);
  });

  it('a real token is set', () => {
    expect(isUnsetVerificationToken('8c8d4d1f-7c43-4a8c-9d4b-0c4d2b6f5e1a')).toBe(false);
  });
});

describe('what a payment grants', () => {
  const rules = { tiers: { Gold: 'enterprise', Silver: 'basic' }, defaultPlan: 'pro', graceDays: 3 };
  const subscription = (changes: Partial<KofiPayment> = {}) => ({ ...parsed(fixture('subscription')), ...changes });

  it('maps the tier name through the rules; an unknown or absent tier gets the default plan', () => {
    expect(planForTier(rules, 'Gold')).toBe('enterprise');
    expect(planForTier(rules, ' Silver ')).toBe('basic');
    expect(planForTier(rules, 'Bronze')).toBe('pro');
    expect(planForTier(rules, null)).toBe('pro');
    // "Default premium": the lowest paid plan with the premium feature, never a richer one nobody paid for.
    expect(planForTier(DEFAULT_KOFI_RULES, 'Gold')).toBe('basic');
    expect(planForTier(DEFAULT_KOFI_RULES, null)).toBe('basic');
  });

  it('the default plan is the cheapest purchasable premium plan of the catalogue', () => {
    const file = JSON.parse(readFileSync(join(__dirname, '..', '..', 'entitlements.config.json'), 'utf8')) as CatalogueFileInput & { plans: { name: string }[] };
    const shipped = catalogueOf(file);
    expect(lowestPremiumPlan(shipped.plans)).toBe('basic');
    expect(defaultKofiRules(shipped)).toEqual(DEFAULT_KOFI_RULES);
    // The shipped file's own sources.kofi says the same.
    expect(shipped.sources.kofi?.defaultPlan).toBe(DEFAULT_KOFI_RULES.defaultPlan);
    const withoutBasic = shipped.plans.filter((plan) => plan.name !== 'basic');
    expect(lowestPremiumPlan(withoutBasic)).toBe('pro');
    expect(() => lowestPremiumPlan(shipped.plans.filter((plan) => !plan.purchasable))).toThrow(/no purchasable premium plan/);
  });

  it.each(['constructor', 'toString', '__proto__', 'hasOwnProperty', 'valueOf'])('a tier named %j is not a rule (no Object.prototype member)', (name) => {
    expect(planForTier(rules, name)).toBe('pro');
    expect(planForTier(DEFAULT_KOFI_RULES, name)).toBe('basic');
    expect(grantOf(subscription({ tier_name: name }), rules)?.plan).toBe('pro');
  });

  it('a subscription payment: its plan for one calendar month from its timestamp, plus the grace days', () => {
    expect(grantOf(subscription(), rules)).toEqual({ plan: 'enterprise', paidThrough: '2027-01-02T12:00:00.000Z', paymentId: '3a1fac0c-f960-4506-a60e-824979a74e74' });
    expect(grantOf(subscription({ tier_name: null }), { ...rules, graceDays: 0 })).toMatchObject({ plan: 'pro', paidThrough: '2026-12-30T12:00:00.000Z' });
  });

  it('type Subscription grants even when is_subscription_payment is false, and a donation never does', () => {
    expect(grantOf(subscription({ is_subscription_payment: false }), rules)).toBeDefined();
    expect(grantOf(parsed(fixture('donation')), rules)).toBeUndefined();
    expect(grantOf(parsed(fixture('shop-order')), rules)).toBeUndefined();
    expect(grantOf({ ...parsed(fixture('donation')), type: 'Commission' }, rules)).toBeUndefined();
  });

  it.each([
    ['2026-01-31T10:00:00.000Z', '2026-02-28T10:00:00.000Z'],
    ['2028-01-31T10:00:00.000Z', '2028-02-29T10:00:00.000Z'],
    ['2026-03-31T23:59:59.000Z', '2026-04-30T23:59:59.000Z'],
    ['2026-12-15T00:00:00.000Z', '2027-01-15T00:00:00.000Z'],
  ])('one calendar month after %s is %s', (from, to) => {
    expect(addCalendarMonth(new Date(from)).toISOString()).toBe(to);
  });

  it('records every payment without the supporter message or name, and names the ids that make a delivery once', () => {
    const payment = parsed(fixture('donation'));
    const record = paymentRecordOf(payment, undefined, new Date('2026-11-30T12:00:01Z'));
    expect(record).toEqual({
      messageId: payment.message_id,
      transactionId: payment.kofi_transaction_id,
      type: 'Donation',
      amount: '3.00',
      currency: 'USD',
      paidAt: '2026-11-30T12:00:00.000Z',
      tierName: null,
      subscription: false,
      firstSubscriptionPayment: false,
      grant: null,
      receivedAt: '2026-11-30T12:00:01.000Z',
    });
    expect(JSON.stringify(record)).not.toContain('Good luck');
    expect(deliveryIds(payment)).toEqual([`message:${payment.message_id}`, `transaction:${payment.kofi_transaction_id}`]);
  });
});
