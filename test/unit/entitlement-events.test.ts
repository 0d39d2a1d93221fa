import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_ACCESS_POLICY, decideAccess, type AccessDecider } from '../../shared/domain/access';
import {
  entitlementChangeOf,
  entitlementChangedSchema,
  recordedChange,
  type ChangeCause,
  type ChangedRow,
  type RowChange,
  entitlementChangedJsonSchema,
  ENTITLEMENT_CHANGED_SCHEMA_FILE,
} from '../../shared/domain/entitlement-events';
import { catalogueWith, defaultCatalogue } from '../fixtures/catalogue';

const catalogue = defaultCatalogue();
const decide: AccessDecider = (state, now) => decideAccess(state, catalogue, DEFAULT_ACCESS_POLICY, now);
const AT = new Date('2026-11-30T12:00:00.000Z');
const PERIOD = { currentPeriodStart: '2026-11-20T08:00:00.000Z', currentPeriodEnd: '2026-12-20T08:00:00.000Z' };

let written = 0;
/** A row as a writer leaves it: `lastChange.at` equals `updatedAt`. */
function row(fields: Omit<ChangedRow, 'userId' | 'updatedAt' | 'lastChange'>, cause?: ChangeCause): ChangedRow {
  const updatedAt = new Date(AT.getTime() - 1000 + (written += 1)).toISOString();
  return { userId: 'user-1', status: 'none', tier: 'free', tokensPurchased: 0, ...fields, updatedAt, ...(cause ? { lastChange: recordedChange(cause, updatedAt) } : {}) };
}

function change(kind: RowChange['kind'], oldImage?: ChangedRow, newImage?: ChangedRow): RowChange {
  return { id: 'stream-record-1', kind, occurredAt: AT, ...(oldImage ? { oldImage } : {}), ...(newImage ? { newImage } : {}) };
}

const free = row({});
const basic = row({ status: 'active', tier: 'basic', ...PERIOD });

describe('entitlement.changed derivation', () => {
  it('publishes a subscription with the Stripe event as cause, previous and current access from the one decision', () => {
    // Arrange
    const after = row({ status: 'active', tier: 'basic', ...PERIOD }, { kind: 'stripe', ref: 'evt_1' });

    // Act
    const event = entitlementChangeOf(change('MODIFY', free, after), decide);

    // Assert
    expect(event).toMatchObject({
      id: 'stream-record-1',
      userId: 'user-1',
      cause: { kind: 'stripe', ref: 'evt_1' },
      previous: { status: 'none', tier: 'free', premium: false },
      current: { status: 'active', tier: 'basic', premium: true, limits: { monthlyTokens: 1000 } },
    });
    expect(event?.changed).toEqual(expect.arrayContaining(['status', 'tier', 'premium', 'features', 'limits', 'allowancePeriod']));
    expect(entitlementChangedSchema.parse(event)).toEqual(event);
  });

  it('publishes an upgrade and a cancellation', () => {
    const pro = row({ status: 'active', tier: 'pro', ...PERIOD }, { kind: 'stripe', ref: 'evt_2' });
    const canceled = row({ status: 'canceled', tier: 'free', ...PERIOD }, { kind: 'stripe', ref: 'evt_3' });

    expect(entitlementChangeOf(change('MODIFY', basic, pro), decide)?.current?.tier).toBe('pro');
    expect(entitlementChangeOf(change('MODIFY', pro, canceled), decide)).toMatchObject({ current: { status: 'canceled', premium: false }, cause: { ref: 'evt_3' } });
  });

  it('publishes nothing when a write changes nothing a consumer reads (an identical re-sync)', () => {
    const resynced = row({ status: 'active', tier: 'basic', ...PERIOD }, { kind: 'stripe', ref: 'evt_again' });

    expect(entitlementChangeOf(change('MODIFY', basic, resynced), decide)).toBeUndefined();
  });

  it('never publishes a plain consume, even when it spends purchased tokens', () => {
    const before = row({ status: 'active', tier: 'basic', ...PERIOD, tokenPeriod: PERIOD.currentPeriodStart, tokensPurchased: 50 });
    const after = row({ status: 'active', tier: 'basic', ...PERIOD, tokenPeriod: PERIOD.currentPeriodStart, tokensPurchased: 40 }, { kind: 'consume' });

    expect(entitlementChangeOf(change('MODIFY', before, after), decide)).toBeUndefined();
  });

  it('publishes the consume that resets the allowance period as a period reset', () => {
    const before = row({ tokenPeriod: '2026-10-01T00:00:00.000Z' });
    const after = row({ tokenPeriod: '2026-11-01T00:00:00.000Z' }, { kind: 'consume' });

    const event = entitlementChangeOf(change('MODIFY', before, after), decide);

    expect(event).toMatchObject({ changed: ['allowanceReset'], cause: { kind: 'period-reset' }, current: { counterPeriod: '2026-11-01T00:00:00.000Z' } });
  });

  it('publishes top-ups, refunds and admin grants of purchased tokens', () => {
    for (const cause of [{ kind: 'top-up', ref: 'topup:cs_1' }, { kind: 'refund', ref: 're_1' }, { kind: 'admin', ref: 'grant-1' }] as const) {
      const after = row({ tokensPurchased: 100 }, cause);
      expect(entitlementChangeOf(change('MODIFY', free, after), decide)).toMatchObject({ changed: ['purchasedTokens'], cause });
    }
  });

  it('publishes an admin override', () => {
    const granted = row({ premiumOverride: true }, { kind: 'admin' });
    const revoked = row({ ...basic, premiumOverride: false }, { kind: 'admin' });

    expect(entitlementChangeOf(change('MODIFY', free, granted), decide)).toMatchObject({ current: { adminOverride: 'grant', premium: true }, cause: { kind: 'admin' } });
    expect(entitlementChangeOf(change('MODIFY', basic, revoked), decide)).toMatchObject({ current: { adminOverride: 'revoke', premium: false } });
  });

  it("publishes nothing when account deletion marks the row for the token writes (only deletingAt), and the row's removal as the deletion", () => {
    const marked = { ...basic, deletingAt: AT.toISOString() };

    expect(entitlementChangeOf(change('MODIFY', basic, marked), decide)).toBeUndefined();
    expect(entitlementChangeOf(change('REMOVE', marked), decide)).toMatchObject({ changed: ['deleted'], previous: { tier: 'basic' }, current: null });
  });

  it('publishes a deletion with the last access as previous', () => {
    const event = entitlementChangeOf(change('REMOVE', basic), decide);

    expect(event).toMatchObject({ changed: ['deleted'], cause: { kind: 'deletion' }, previous: { tier: 'basic' }, current: null });
  });

  it("publishes nothing for a sign-up's empty row, and a new row that grants something as created", () => {
    const signedUp = row({}, { kind: 'sign-up' });
    const grantedFirst = row({ premiumOverride: true }, { kind: 'admin' });

    expect(entitlementChangeOf(change('INSERT', undefined, signedUp), decide)).toBeUndefined();
    expect(entitlementChangeOf(change('INSERT', undefined, grantedFirst), decide)).toMatchObject({ changed: expect.arrayContaining(['created', 'premium']), previous: null });
  });

  it('names the cause unknown when the stored cause was left by an earlier write', () => {
    const stale = { ...row({ tokensPurchased: 100 }), lastChange: { kind: 'consume' as const, at: '2026-01-01T00:00:00.000Z' } };

    expect(entitlementChangeOf(change('MODIFY', free, stale), decide)).toMatchObject({ changed: ['purchasedTokens'], cause: { kind: 'unknown' } });
  });

  it('decides both images at the same instant, so the calendar never makes a change', () => {
    const before = row({ tier: 'free' });
    const after = row({ tier: 'free' }, { kind: 'admin' });

    expect(entitlementChangeOf(change('MODIFY', before, after), decide)).toBeUndefined();
  });
});

describe('entitlement.changed JSON Schema', () => {
  it('the committed schema file is the one generated from the zod schema (run `npm run events -- schema`)', () => {
    const committed = JSON.parse(readFileSync(join(__dirname, '..', '..', ENTITLEMENT_CHANGED_SCHEMA_FILE), 'utf8')) as unknown;

    expect(committed).toEqual(entitlementChangedJsonSchema());
  });
});
