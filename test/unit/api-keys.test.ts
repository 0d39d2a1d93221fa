import { createHash } from 'node:crypto';
import { API_KEY_PREFIX, generateApiKey, hashApiKey, isWellFormedApiKey } from '../../shared/domain/api-keys';
import { buildTierCatalogue } from '../../shared/domain/tiers';
import { apiCallLimitFor, describeApiUsage, monthlyApiCallLimit, secondsUntilReset, usageCounterId, usageExpiresAt } from '../../shared/domain/usage';

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
  const catalogue = buildTierCatalogue();
  const now = new Date('2026-11-23T21:30:00.000Z');

  it('takes monthly limits from the tier catalogue: basic 1000, pro 5000, enterprise unlimited, free none', () => {
    expect(['basic', 'pro', 'creator', 'enterprise', 'free', 'unknown'].map((t) => monthlyApiCallLimit(catalogue, t))).toEqual([1000, 5000, 5000, null, 0, 0]);
    expect(apiCallLimitFor({ tier: 'pro', features: ['api-access'] }, catalogue)).toBe(5000);
    // A lapsed plan keeps no API access.
    expect(apiCallLimitFor({ tier: 'pro', features: ['token-top-ups'] }, catalogue)).toBe(0);
  });

  it('resets at 00:00 UTC on the 1st, and keeps counters past the ledger retention', () => {
    expect(describeApiUsage(12, 1000, now)).toEqual({ used: 12, limit: 1000, resetsAt: '2026-12-01T00:00:00.000Z' });
    expect(secondsUntilReset(now)).toBe(7 * 86_400 + 2.5 * 3600);
    expect(secondsUntilReset(new Date('2026-11-30T23:59:59.999Z'))).toBe(1);
    expect(usageCounterId('api-calls', '2026-11')).toBe('usage#api-calls#2026-11');
    expect(usageExpiresAt(now)).toBe(Date.parse('2026-12-01T00:00:00Z') / 1000 + 400 * 86_400);
  });
});
