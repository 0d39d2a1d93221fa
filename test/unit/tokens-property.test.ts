import fc from 'fast-check';
import { DEFAULT_ACCESS_POLICY, decideAccess } from '../../shared/domain/access';
import type { EntitlementRecord } from '../../shared/domain/entitlement';
import { describeTokens } from '../../shared/domain/token-views';
import { BILLING_PERIOD_MS, InMemoryTokenStore, ReferenceModel, SMALL_CATALOGUE, initialRow, nextBoundary, tokenHistory, type TokenHistory } from '../fixtures/tokens';

const summaryOf = (row: EntitlementRecord | undefined, now: Date) => describeTokens(row, decideAccess(row, SMALL_CATALOGUE, DEFAULT_ACCESS_POLICY, now));

const userId = (i: number) => `user-${i}`;

/** Runs a history through the in-memory store (the domain rules) and the naive reference, op by op. */
async function replay(history: TokenHistory) {
  let clock = history.start;
  const store = new InMemoryTokenStore(SMALL_CATALOGUE, () => clock);
  const reference = new ReferenceModel(SMALL_CATALOGUE, history.users, history.start);
  history.users.forEach((u, i) => store.createUser(userId(i), initialRow(u, history.start)));
  const renewals = history.users.map(() => [] as string[]);
  const consumed: Array<{ user: number; key: string; amount: number }> = [];
  const added = history.users.map((u) => u.purchased);

  for (const op of history.ops) {
    switch (op.kind) {
      case 'wait':
        clock = new Date(clock.getTime() + op.ms);
        break;
      case 'boundary':
        clock = nextBoundary(clock, op.offsetMs);
        break;
      case 'tier':
        // A calendar user's tier is an admin's; a subscriber changes plan in Stripe, keeping the paid period.
        if (reference.isBilling(op.user)) store.applyStripe(userId(op.user), { tier: op.tier });
        else await store.setTier({ userId: userId(op.user), tier: op.tier, sticky: false });
        reference.setTier(op.user, op.tier);
        break;
      case 'renew':
        if (reference.renew(op.user, clock)) {
          const start = reference.periodStartOf(op.user);
          const periodStart = new Date(start).toISOString();
          store.applyStripe(userId(op.user), { currentPeriodStart: periodStart, currentPeriodEnd: new Date(start + BILLING_PERIOD_MS).toISOString() });
          renewals[op.user]!.push(periodStart);
        }
        break;
      case 'consume': {
        const got = await store.consume({ userId: userId(op.user), amount: op.amount, idempotencyKey: op.key });
        expect(got).toEqual(reference.consume(op.user, op.amount, op.key, clock));
        if (got.outcome === 'consumed') {
          expect(got.remaining === null || got.remaining >= 0).toBe(true);
          if (!got.replayed) consumed.push({ user: op.user, key: op.key, amount: op.amount });
        }
        if (got.outcome === 'insufficient') expect(got.remaining).toBeGreaterThanOrEqual(0);
        break;
      }
      case 'add': {
        const got = await store.addPurchasedTokens({ userId: userId(op.user), tokens: op.amount, idempotencyKey: op.key, reason: 'property test' });
        expect(got).toEqual(reference.add(op.user, op.amount, op.key, clock));
        if (got.outcome === 'added' && got.applied) added[op.user]! += op.amount;
        break;
      }
    }
    // Never negative, at every step, for every user.
    for (const [i] of history.users.entries()) {
      const row = store.rows.get(userId(i))!;
      expect(row.tokensPurchased).toBeGreaterThanOrEqual(0);
      expect(summaryOf(row, clock).remaining ?? 0).toBeGreaterThanOrEqual(0);
    }
  }
  return { store, reference, clock, consumed, added, renewals };
}

describe('token rules under random histories (in-memory model, fast-check)', () => {
  it('never go negative, never charge a key twice, and end at the reference balance', async () => {
    await fc.assert(
      fc.asyncProperty(tokenHistory({ maxUsers: 4, maxOps: 60, tierChanges: true }), async (history) => {
        const { store, reference, clock, consumed, added, renewals } = await replay(history);

        for (const [i] of history.users.entries()) {
          const id = userId(i);
          const row = store.rows.get(id)!;
          const entries = store.ledger.filter((e) => e.userId === id);
          const consumes = entries.filter((e) => e.kind === 'consume');
          // One charge per key: one ledger entry per successful consume, none for replays.
          expect(consumes.map((e) => e.idempotencyKey).sort()).toEqual(consumed.filter((c) => c.user === i).map((c) => c.key).sort());
          expect(new Set(consumes.map((e) => e.idempotencyKey)).size).toBe(consumes.length);
          // The ledger explains the balance: purchased = credited - spent from purchased.
          const fromPurchased = consumes.reduce((s, e) => s + (e.fromPurchased ?? 0), 0);
          expect(row.tokensPurchased).toBe(added[i]! - fromPurchased);
          // usedThisPeriod = the consumes recorded in the current period.
          const summary = summaryOf(row, clock);
          const period = history.users[i]!.billing ? new Date(reference.periodStartOf(i)).toISOString() : `${clock.toISOString().slice(0, 7)}-01T00:00:00.000Z`;
          expect(summary.usedThisPeriod).toBe(consumes.filter((e) => e.period === period).reduce((s, e) => s + (e.amount ?? 0), 0));
          expect(summary.remaining).toBe(reference.remaining(i, clock));
          // Resets: at most one per period. A subscriber's resets happen only at renewals
          // (a paid period), never at a calendar boundary: one allowance per payment.
          const resets = entries.filter((e) => e.kind === 'reset').map((e) => e.period);
          expect(new Set(resets).size).toBe(resets.length);
          if (history.users[i]!.billing) for (const reset of resets) expect(renewals[i]).toContain(reset);
          else for (const reset of resets) expect(reset).toMatch(/^\d{4}-\d{2}-01T00:00:00\.000Z$/);
        }
      }),
      { numRuns: 400 },
    );
  });

  it('end, within one period, at allowance + purchased - successful consumes', async () => {
    await fc.assert(
      fc.asyncProperty(tokenHistory({ maxUsers: 5, maxOps: 60, clockMoves: false }), async (history) => {
        const { store, clock, consumed, added } = await replay(history);
        for (const [i, user] of history.users.entries()) {
          const allowance = SMALL_CATALOGUE.plans.find((t) => t.name === user.tier)!.monthlyTokens;
          const spent = consumed.filter((c) => c.user === i).reduce((s, c) => s + c.amount, 0);
          const summary = summaryOf(store.rows.get(userId(i)), clock);
          expect(summary.remaining).toBe(allowance === null ? null : allowance + added[i]! - spent);
          expect(summary.usedThisPeriod).toBe(spent);
        }
      }),
      { numRuns: 300 },
    );
  });
});
