import { resolve } from 'node:path';
import fc from 'fast-check';
import { readCatalogueFile } from '../../shared/config/catalogue';
import { resolveCatalogue } from '../../shared/domain/catalogue';
import { InMemoryTokenStore } from '../fixtures/tokens';

/**
 * Metered features under random histories (the custom fixture: report-exports
 * is 3 a month on team, 100 on pro, unlimited on enterprise, absent on basic):
 * uses never exceed the plan's limit in any period, a key is charged once
 * (a repeat answers the first answer, another request under it is a
 * conflict), the count starts afresh each calendar month, tokens are never
 * touched, and the ledger's feature entries add up to what was charged.
 */

const CATALOGUE = resolveCatalogue(readCatalogueFile(resolve(__dirname, '..', 'fixtures', 'catalogues', 'custom.config.json')).file, 'local');
const FEATURE = 'report-exports';
const PLANS = ['team', 'pro', 'enterprise', 'basic'] as const;
const LIMITS: Record<(typeof PLANS)[number], number | null | undefined> = { team: 3, pro: 100, enterprise: null, basic: undefined };
const DAY = 86_400_000;

type Op = { kind: 'use'; user: number; amount: number; key: string } | { kind: 'wait'; ms: number };

const history = fc.record({
  plans: fc.array(fc.constantFrom(...PLANS), { minLength: 1, maxLength: 3 }),
  ops: fc.array(
    fc.oneof(
      { weight: 8, arbitrary: fc.record({ kind: fc.constant('use' as const), user: fc.nat(2), amount: fc.integer({ min: 1, max: 40 }), key: fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f', 'g', 'h') }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('wait' as const), ms: fc.integer({ min: 1, max: 40 * DAY }) }) },
    ),
    { maxLength: 60 },
  ),
});

it('never over the limit, once per key, afresh each month, tokens untouched, the ledger adds up', async () => {
  await fc.assert(
    fc.asyncProperty(history, async ({ plans, ops }) => {
      let clock = new Date('2026-01-20T10:00:00.000Z');
      const store = new InMemoryTokenStore(CATALOGUE, () => clock);
      plans.forEach((plan, i) => store.createUser(`u${i}`, { tierStickyValue: plan, tokensPurchased: 5 }));
      const firstAnswer = new Map<string, { amount: number; answer: unknown }>();
      const usedIn = new Map<string, number>();

      for (const op of ops as Op[]) {
        if (op.kind === 'wait') {
          clock = new Date(clock.getTime() + op.ms);
          continue;
        }
        const user = op.user % plans.length;
        const plan = plans[user]!;
        const limit = LIMITS[plan];
        const period = `${user}:${clock.toISOString().slice(0, 7)}`;
        const got = await store.consume({ userId: `u${user}`, amount: op.amount, idempotencyKey: op.key, feature: FEATURE });
        const keyOf = `${user}:${op.key}`;
        const first = firstAnswer.get(keyOf);
        if (first) {
          // A key is charged once: a repeat answers the first answer; another amount under it is a conflict.
          expect(got).toEqual(first.amount === op.amount ? { ...(first.answer as object), replayed: true } : { outcome: 'conflict' });
          continue;
        }
        const used = usedIn.get(period) ?? 0;
        if (limit === undefined || (limit !== null && used + op.amount > limit)) {
          expect(got).toEqual({ outcome: 'insufficient', remaining: limit === undefined ? 0 : limit - used });
          continue;
        }
        expect(got).toEqual({ outcome: 'consumed', consumed: op.amount, remaining: limit === null ? null : limit - used - op.amount, replayed: false });
        usedIn.set(period, used + op.amount);
        firstAnswer.set(keyOf, { amount: op.amount, answer: { outcome: 'consumed', consumed: op.amount, remaining: limit === null ? null : limit - used - op.amount } });
      }

      for (const [i] of plans.entries()) {
        const row = store.rows.get(`u${i}`)!;
        // Tokens are another allowance: never touched by a feature's uses.
        expect(row.tokensPurchased).toBe(5);
        expect(row.tokenPeriod).toBeUndefined();
        const entries = store.ledger.filter((e) => e.userId === `u${i}`);
        expect(entries.every((e) => e.kind === 'consume' && e.feature === FEATURE)).toBe(true);
        const charged = [...usedIn].filter(([k]) => k.startsWith(`${i}:`)).reduce((sum, [, n]) => sum + n, 0);
        expect(entries.reduce((sum, e) => sum + (e.amount ?? 0), 0)).toBe(charged);
      }
    }),
    { numRuns: 300 },
  );
});
