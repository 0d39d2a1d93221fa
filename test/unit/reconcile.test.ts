import { join } from 'node:path';
import { localEveryMs, scheduleExpressions } from '../../infra/local/scheduler';
import { failedDeliveriesFrom, nextCallSlot, runDeadline, RUN_RESERVE_MS, STRIPE_EVENT_RETENTION_SECONDS } from '../../shared/domain/reconcile';

describe('failedDeliveriesFrom', () => {
  const now = 2_000_000_000;

  it("looks back over Stripe's whole retention on the first run", () => {
    expect(failedDeliveriesFrom(now, undefined)).toBe(now - STRIPE_EVENT_RETENTION_SECONDS);
  });

  it('starts at the high-water mark, inclusive', () => {
    expect(failedDeliveriesFrom(now, now - 60)).toBe(now - 60);
  });

  it('never asks for more than Stripe keeps, however old the mark', () => {
    expect(failedDeliveriesFrom(now, 1)).toBe(now - STRIPE_EVENT_RETENTION_SECONDS);
  });
});

describe('runDeadline', () => {
  it('is the budget when the function has time to spare', () => {
    expect(runDeadline(0, 60_000, 300_000).getTime()).toBe(60_000);
  });

  it('keeps the reserve before the function times out', () => {
    expect(runDeadline(0, 600_000, 120_000).getTime()).toBe(120_000 - RUN_RESERVE_MS);
  });

  it('is now when nothing is left, never in the past', () => {
    expect(runDeadline(5, 60_000, 1_000).getTime()).toBe(5);
  });

  it('is the budget outside Lambda (an operator run)', () => {
    expect(runDeadline(0, 60_000, undefined).getTime()).toBe(60_000);
  });
});

describe('nextCallSlot', () => {
  it('starts the first call at once', () => {
    expect(nextCallSlot(undefined, 1_000, 10)).toEqual({ at: 1_000, waitMs: 0 });
  });

  it('spaces calls 1/rate apart', () => {
    expect(nextCallSlot(1_000, 1_020, 10)).toEqual({ at: 1_100, waitMs: 80 });
  });

  it('does not wait when the run was slower than the pace anyway', () => {
    expect(nextCallSlot(1_000, 1_500, 10)).toEqual({ at: 1_500, waitMs: 0 });
  });

  it('keeps any number of calls under the rate', () => {
    let previous: number | undefined;
    let now = 0;
    for (let i = 0; i < 100; i++) {
      const slot = nextCallSlot(previous, now, 20);
      previous = slot.at;
      now = slot.at + 1;
    }
    expect(previous).toBeGreaterThanOrEqual(99 * 50);
  });
});

describe('the local scheduler', () => {
  it('runs a rate at its period and a cron once a day', () => {
    expect(localEveryMs('rate(15 minutes)')).toBe(15 * 60_000);
    expect(localEveryMs('rate(1 hour)')).toBe(3_600_000);
    expect(localEveryMs('cron(17 3 * * ? *)')).toBe(86_400_000);
    expect(() => localEveryMs('every 5 minutes')).toThrow('not a schedule expression');
  });

  it('reads the expressions cdk deploy uses', () => {
    expect(scheduleExpressions(join(__dirname, '..', '..'))).toEqual({ 'reconcile-light': 'rate(15 minutes)', 'reconcile-full': 'cron(17 3 * * ? *)' });
  });
});
