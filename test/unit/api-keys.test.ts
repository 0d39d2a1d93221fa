import { createHash } from 'node:crypto';
import { API_KEY_PREFIX, generateApiKey, hashApiKey, isWellFormedApiKey } from '../../shared/domain/api-keys';
import { catalogueWith, defaultCatalogue } from '../fixtures/catalogue';
import { DEFAULT_ACCESS_POLICY, decideAccess, type AccessState } from '../../shared/domain/access';
import { calendarPeriod, secondsUntilEnd } from '../../shared/domain/periods';
import { describeApiUsage, usageCounterId, usageExpiresAt } from '../../shared/domain/usage';

describe('API key format', () => {
  it('is evk_live_ + 32 random bytes in base64url, hashed with SHA-256, shown by a short prefix', () => {
    const key = generateApiKey();
    expect(key.apiKey).toMatch(/^evk_live_[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(key.apiKey.slice(API_KEY_PREFIX.length), 'base64url')).toHaveLength(32);
    expect(key.keyHash).toBe(createHash('sha256').update(key.apiKey).digest('hex'));
    expect(key.prefix).toBe(key.apiKey.slice(0, 13));
    expect(isWellFormedApiKey(key.apiKey)).toBe(true);
  });

  it('never repeats and depends on the injected randomness only', () => {
    const keys = new Set(Array.from({ length: 1000 }, () => generateApiKey().apiKey));
    expect(keys.size).toBe(1000);
    const fixed = generateApiKey((n) => Buffer.alloc(n, 7));
    expect(fixed.apiKey).toBe(`evk_live_${Buffer.alloc(32, 7).toString('base64url')}`);
  });

  it('refuses anything that is not exactly a key shape', () => {
    const key = generateApiKey().apiKey;
    for (const bad of ['', key.slice(0, -1), `${key}A`, key.replace('evk_live_', 'evk_test_'), ` ${key}`, key.replace(/.$/, '+')]) {
      expect(isWellFormedApiKey(bad)).toBe(false);
    }
    expect(hashApiKey(key)).not.toBe(hashApiKey(`${key} `));
  });
});

describe('API usage', () => {
  const catalogue = defaultCatalogue();
  const now = new Date('2026-11-23T21:30:00.000Z');
  const access = (state: AccessState) => decideAccess(state, catalogue, DEFAULT_ACCESS_POLICY, now);

  it('takes the limits from the access decision: basic 1000, pro 5000, enterprise unlimited, free none', () => {
    expect((['basic', 'pro', 'enterprise', 'free'] as const).map((tier) => access({ status: 'active', tier }).monthlyApiCalls)).toEqual([1000, 5000, null, 0]);
    // A lapsed plan keeps no API access, and no per-second rate to spend.
    expect(access({ status: 'past_due', tier: 'pro' })).toMatchObject({ monthlyApiCalls: 0, apiKeys: false, rateLimits: { apiCalls: null } });
    expect(access({ status: 'active', tier: 'pro', premiumOverride: false }).monthlyApiCalls).toBe(0);
  });

  it('resets with the period (calendar here), and keeps counters past the ledger retention', () => {
    const period = calendarPeriod(now);
    expect(describeApiUsage(12, 1000, period)).toEqual({ used: 12, limit: 1000, resetsAt: '2026-12-01T00:00:00.000Z' });
    expect(secondsUntilEnd(period, now)).toBe(7 * 86_400 + 2.5 * 3600);
    expect(secondsUntilEnd(calendarPeriod(new Date('2026-11-30T23:59:59.999Z')), new Date('2026-11-30T23:59:59.999Z'))).toBe(1);
    expect(usageCounterId('api-calls', period.id)).toBe('usage#api-calls#2026-11-01T00:00:00.000Z');
    expect(usageExpiresAt(period)).toBe(Date.parse('2026-12-01T00:00:00Z') / 1000 + 400 * 86_400);
  });

  it('follows the Stripe billing period for subscribers', () => {
    const state: AccessState = { status: 'active', tier: 'pro', currentPeriodStart: '2026-11-20T08:00:00.000Z', currentPeriodEnd: '2026-12-20T08:00:00.000Z' };
    const period = access(state).period;
    expect(describeApiUsage(1, 5000, period).resetsAt).toBe('2026-12-20T08:00:00.000Z');
    expect(usageCounterId('api-calls', period.id)).toBe('usage#api-calls#2026-11-20T08:00:00.000Z');
  });
});
