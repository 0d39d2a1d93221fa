import fc from 'fast-check';
import { describeTokens } from '../../shared/domain/tokens';
import { InMemoryTokenStore, ReferenceModel, SMALL_CATALOGUE, nextBoundary, tokenHistory, type TokenHistory } from '../fixtures/tokens';

const userId = (i: number) => `user-${i}`;

/** Runs a history through the in-memory store (the domain rules) and the naive reference, op by op. */
async function replay(history: TokenHistory) {
  let clock = history.start;
  const store = new InMemoryTokenStore(SMALL_CATALOGUE, () => clock);
  const reference = new ReferenceModel(SMALL_CATALOGUE, history.users, history.start);
  history.users.forEach((u, i) => store.createUser(userId(i), { tier: u.tier, tokensPurchased: u.purchased }));
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
        await store.setTier({ userId: userId(op.user), tier: op.tier, sticky: false });
        reference.setTier(op.user, op.tier);
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
      expect(describeTokens(row, SMALL_CATALOGUE, clock).remaining ?? 0).toBeGreaterThanOrEqual(0);
    }
  }
  return { store, reference, clock, consumed, added };
}

describe('token rules under random histories (in-memory model, fast-check)', () => {
  it('never go negative, never charge a key twice, and end at the reference balance', async () => {
    await fc.assert(
      fc.asyncProperty(tokenHistory({ maxUsers: 4, maxOps: 60, tierChanges: true }), async (history) => {
        const { store, reference, clock, consumed, added } = await replay(history);

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
          const summary = describeTokens(row, SMALL_CATALOGUE, clock);
          const period = clock.toISOString().slice(0, 7);
          expect(summary.usedThisPeriod).toBe(consumes.filter((e) => e.period === period).reduce((s, e) => s + (e.amount ?? 0), 0));
          expect(summary.remaining).toBe(reference.remaining(i, clock));
          // Resets: at most one per period, each one month after some earlier period.
          const resets = entries.filter((e) => e.kind === 'reset').map((e) => e.period);
          expect(new Set(resets).size).toBe(resets.length);
        }
      }),
      { numRuns: 400 },
    );
  });

  it('end, within one month, at allowance + purchased - successful consumes', async () => {
    await fc.assert(
      fc.asyncProperty(tokenHistory({ maxUsers: 5, maxOps: 60, clockMoves: false }), async (history) => {
        const { store, clock, consumed, added } = await replay(history);
        for (const [i, user] of history.users.entries()) {
          const allowance = SMALL_CATALOGUE.find((t) => t.name === user.tier)!.monthlyTokens;
          const spent = consumed.filter((c) => c.user === i).reduce((s, c) => s + c.amount, 0);
          const summary = describeTokens(store.rows.get(userId(i)), SMALL_CATALOGUE, clock);
          expect(summary.remaining).toBe(allowance === null ? null : allowance + added[i]! - spent);
          expect(summary.usedThisPeriod).toBe(spent);
        }
      }),
      { numRuns: 300 },
    );
  });
});
