import { ConditionalCheckFailedException, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, GetCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { NO_SUBSCRIPTION, type EntitlementRecord, type SubscriptionState } from '../../domain/entitlement';
import { recordedChange, type ChangeCause } from '../../domain/entitlement-events';
import type { PlanName } from '../../domain/catalogue-model';
import type { KofiGrant } from '../../domain/kofi';
import type { EntitlementStore, KofiEntitlements, PremiumOverrides } from '../../ports/entitlements';
import { liveUserCheck, liveUserWrite, refusedForGoneUser, transactWithConflictRetries } from './live-user';

export class DynamoEntitlementStore implements EntitlementStore, PremiumOverrides, KofiEntitlements {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tables: { entitlements: string; users: string },
    private readonly now: () => Date = () => new Date(),
  ) {}

  async get(userId: string, options: { consistent?: boolean } = {}): Promise<EntitlementRecord | undefined> {
    const out = await this.doc.send(
      new GetCommand({ TableName: this.tables.entitlements, Key: { userId }, ConsistentRead: options.consistent ?? false }),
    );
    if (!out.Item) return undefined;
    // A string set on the row (ADD keeps it duplicate-free); an array to everyone else.
    const { kofiEmails, ...row } = out.Item as EntitlementRecord & { kofiEmails?: Set<string> };
    return (kofiEmails ? { ...row, kofiEmails: [...kofiEmails].sort() } : row) as EntitlementRecord;
  }

  /**
   * The sign-up's row, behind the live-user check: a sign-up Cognito retries
   * after the account deletion purged the row (or while it runs) must not put
   * back a row without the deletion's mark, which token writes, checking only
   * this row, would take as live. DynamoDB's TransactionConflict (another
   * transaction on the profile, e.g. the trigger invoked twice) is retried.
   */
  async createIfAbsent(record: EntitlementRecord): Promise<'created' | 'exists' | 'gone'> {
    const reasons = await transactWithConflictRetries(this.doc, [
      liveUserCheck(this.tables.users, record.userId),
      {
        Put: {
          TableName: this.tables.entitlements,
          Item: { ...record, lastChange: recordedChange({ kind: 'sign-up' }, record.updatedAt) },
          ConditionExpression: 'attribute_not_exists(userId)',
        },
      },
    ]);
    if (!reasons) return 'created';
    return reasons[0]?.Code === 'ConditionalCheckFailed' ? 'gone' : 'exists';
  }


  /**
   * One transaction: the user must exist and not be being deleted (so a late
   * webhook never resurrects a deleted account), and the stored Stripe read
   * must be older than this one (so an older read never overwrites a newer).
   * The row is created when sign-up could not.
   */
  async applySubscriptionState(userId: string, state: SubscriptionState, syncedAt: number, cause: ChangeCause): Promise<'written' | 'stale' | 'gone'> {
    const now = this.now().toISOString();
    const values: Record<string, unknown> = {
      ':lastChange': recordedChange(cause, now),
      ':status': state.status,
      ':plan': state.plan,
      ':sub': state.subscriptionId,
      ':trial': state.trialEndsAt,
      ':cape': state.cancelAtPeriodEnd,
      ':synced': syncedAt,
      ':now': now,
      ':tier': state.tier,
      ':zero': 0,
    };
    const sets = [
      '#status = :status, #plan = :plan, subscriptionId = :sub, trialEndsAt = :trial, cancelAtPeriodEnd = :cape, tier = :tier',
      'stripeSyncedAt = :synced, updatedAt = :now, lastChange = :lastChange, createdAt = if_not_exists(createdAt, :now)',
      'tokensPurchased = if_not_exists(tokensPurchased, :zero), tokensUsedThisPeriod = if_not_exists(tokensUsedThisPeriod, :zero)',
    ];
    // A period is adopted once paid; until then the previous paid period stays in force.
    if (state.periodPaid) {
      values[':cps'] = state.currentPeriodStart;
      values[':cpe'] = state.currentPeriodEnd;
      sets.push('currentPeriodStart = :cps, currentPeriodEnd = :cpe');
    }
    // The past_due grace runs from the first read that saw past_due (kept across later past_due reads).
    let remove = '';
    if (state.status === 'past_due') {
      values[':pastDueSince'] = new Date(syncedAt).toISOString();
      sets.push('pastDueSince = if_not_exists(pastDueSince, :pastDueSince)');
    } else {
      remove = ' REMOVE pastDueSince';
    }
    // Admin tiers are not touched: one set against an older Stripe state simply stops applying (shared/domain/access.ts).
    return this.updateLiveRow(userId, {
      UpdateExpression: `SET ${sets.join(', ')}${remove}`,
      ConditionExpression: 'attribute_not_exists(stripeSyncedAt) OR stripeSyncedAt < :synced',
      ExpressionAttributeValues: values,
    });
  }

  /**
   * The one way this store writes a row: a transaction of the live-user check
   * and the update. 'gone' when the user no longer exists or is being deleted,
   * 'stale' when the update's own condition failed.
   */
  private async updateLiveRow(
    userId: string,
    update: { UpdateExpression: string; ConditionExpression?: string; ExpressionAttributeValues: Record<string, unknown> },
  ): Promise<'written' | 'stale' | 'gone'> {
    try {
      await this.doc.send(
        liveUserWrite(this.tables.users, userId, [
          {
            Update: {
              TableName: this.tables.entitlements,
              Key: { userId },
              ExpressionAttributeNames: { '#status': 'status', '#plan': 'plan' },
              ...update,
            },
          },
        ]),
      );
      return 'written';
    } catch (err) {
      if (refusedForGoneUser(err)) return 'gone';
      if (err instanceof TransactionCanceledException && err.CancellationReasons?.[1]?.Code === 'ConditionalCheckFailed') return 'stale';
      throw err;
    }
  }

  /**
   * Only `deletingAt`: not `updatedAt` nor `lastChange`, and no field the
   * access decision reads, so the stream publisher sees no change of access
   * and publishes nothing. Conditioned on the row existing, so it never
   * creates one.
   */
  async markDeleting(userId: string, at: string): Promise<void> {
    await this.doc
      .send(
        new UpdateCommand({
          TableName: this.tables.entitlements,
          Key: { userId },
          UpdateExpression: 'SET deletingAt = if_not_exists(deletingAt, :at)',
          ConditionExpression: 'attribute_exists(userId)',
          ExpressionAttributeValues: { ':at': at },
        }),
      )
      .catch((err: unknown) => {
        if (!(err instanceof ConditionalCheckFailedException)) throw err;
      });
  }

  async delete(userId: string): Promise<void> {
    await this.doc.send(new DeleteCommand({ TableName: this.tables.entitlements, Key: { userId } }));
  }

  /**
   * One transaction, like applySubscriptionState: the user must exist and not
   * be being deleted; the row is created with the no-subscription defaults
   * when sign-up could not, and nothing else in it changes.
   */
  async setPremiumOverride(userId: string, value: boolean | undefined, grantTier?: PlanName): Promise<'written' | 'gone'> {
    const now = this.now().toISOString();
    const defaults = ROW_DEFAULTS;
    const values: Record<string, unknown> = {
      ':now': now,
      ':lastChange': recordedChange({ kind: 'admin' }, now),
      ...ROW_DEFAULT_VALUES,
      ...(value === undefined ? {} : { ':override': value }),
      ...(value === true && grantTier ? { ':grantTier': grantTier } : {}),
    };
    const update =
      value === undefined
        ? `SET updatedAt = :now, lastChange = :lastChange, ${defaults} REMOVE premiumOverride, premiumOverrideTier`
        : value === true && grantTier
          ? `SET premiumOverride = :override, premiumOverrideTier = :grantTier, updatedAt = :now, lastChange = :lastChange, ${defaults}`
          : `SET premiumOverride = :override, updatedAt = :now, lastChange = :lastChange, ${defaults} REMOVE premiumOverrideTier`;
    const result = await this.updateLiveRow(userId, { UpdateExpression: update, ExpressionAttributeValues: values });
    // The override has no condition of its own: only the live-user check can refuse it.
    return result === 'written' ? 'written' : 'gone';
  }

  /**
   * One transaction, like the others: the user must be live. The row's
   * Ko-fi paid-through only grows (a replay, or the sign-up attaching what
   * the webhook already wrote, is 'unchanged'); the row is created with the
   * no-subscription defaults when the webhook comes before the sign-up's row.
   */
  async applyKofiGrant(userId: string, email: string, grant: KofiGrant, cause: ChangeCause): Promise<'written' | 'unchanged' | 'gone'> {
    const now = this.now().toISOString();
    const emails = new Set([email]);
    const result = await this.updateLiveRow(userId, {
      UpdateExpression: `SET kofiPlan = :kofiPlan, kofiPaidThrough = :through, updatedAt = :now, lastChange = :lastChange, ${ROW_DEFAULTS} ADD kofiEmails :emails`,
      ConditionExpression: 'attribute_not_exists(kofiPaidThrough) OR kofiPaidThrough < :through',
      ExpressionAttributeValues: { ':kofiPlan': grant.plan, ':through': grant.paidThrough, ':now': now, ':lastChange': recordedChange(cause, now), ':emails': emails, ...ROW_DEFAULT_VALUES },
    });
    if (result !== 'stale') return result;
    // The row already runs as long (another address's grant, or a replay): it still records that it carries this
    // address's grant, so the account's deletion purges it.
    const recorded = await this.updateLiveRow(userId, {
      UpdateExpression: 'ADD kofiEmails :emails',
      ConditionExpression: 'attribute_exists(userId) AND NOT contains(kofiEmails, :email)',
      ExpressionAttributeValues: { ':emails': emails, ':email': email },
    });
    return recorded === 'gone' ? 'gone' : 'unchanged';
  }
}

/** A row written before sign-up made it gets the no-subscription defaults (and keeps whatever it already holds). */
const ROW_DEFAULTS =
  'createdAt = if_not_exists(createdAt, :now), #status = if_not_exists(#status, :none), #plan = if_not_exists(#plan, :null), ' +
  'tier = if_not_exists(tier, :free), subscriptionId = if_not_exists(subscriptionId, :null), ' +
  'currentPeriodStart = if_not_exists(currentPeriodStart, :null), currentPeriodEnd = if_not_exists(currentPeriodEnd, :null), trialEndsAt = if_not_exists(trialEndsAt, :null), ' +
  'cancelAtPeriodEnd = if_not_exists(cancelAtPeriodEnd, :false), tokensPurchased = if_not_exists(tokensPurchased, :zero), ' +
  'tokensUsedThisPeriod = if_not_exists(tokensUsedThisPeriod, :zero)';
const ROW_DEFAULT_VALUES = { ':none': NO_SUBSCRIPTION.status, ':free': NO_SUBSCRIPTION.tier, ':null': null, ':false': false, ':zero': 0 };
