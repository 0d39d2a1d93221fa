import { randomBytes } from 'node:crypto';
import { ConditionalCheckFailedException, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { GetCommand, TransactGetCommand, TransactWriteCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { TablesConfig } from '../../config';
import { DEFAULT_ACCESS_POLICY, adminTierFields, decideAccess, type AccessDecider, type AccessPolicy } from '../../domain/access';
import type { EntitlementRecord } from '../../domain/entitlement';
import { recordedChange } from '../../domain/entitlement-events';
import type { Catalogue } from '../../domain/catalogue-model';
import { TOKEN_STATE_FIELDS, tokenStateOf, type StoredTokenState } from '../../domain/token-balances';
import { idempotencyRecord, replayOf, type IdempotencyRecord } from '../../domain/token-idempotency';
import { adjustmentKeys, adjustmentOperation, type AdjustmentResponse, type PurchasedTokenAdjustment } from '../../domain/token-refunds';
import { addOperation, consumeOperation, type ConsumeResponse, type TokenOperation, type TokenWriteDecision } from '../../domain/token-writes';
import {
  TokenContentionError,
  type AddTokensRequest,
  type AddTokensResult,
  type ConsumeTokensRequest,
  type ConsumeTokensResult,
  type TierOverride,
  type TokenStore,
} from '../../ports/tokens';

export interface TokenTables {
  entitlements: string;
  ledger: string;
  idempotency: string;
}

export function tokenTables(tables: TablesConfig): TokenTables {
  return { entitlements: tables.TABLE_ENTITLEMENTS, ledger: tables.TABLE_LEDGER, idempotency: tables.TABLE_IDEMPOTENCY };
}

/**
 * The condition on the entitlement row that stops every token write once the
 * user's account deletion has started: the deletion marks this row
 * (`deletingAt`, EntitlementStore.markDeleting) before it purges the ledger,
 * so no ledger entry or idempotency record can land after the purge. Checked
 * by the row's own Update, it costs nothing; a ConditionCheck of the users
 * row did the same for 2 more write units per write.
 */
export const NOT_BEING_DELETED = 'attribute_not_exists(deletingAt)';

/** A row the deletion has marked is as good as gone for token writes. */
const beingDeleted = (row: object | undefined) => row !== undefined && 'deletingAt' in row;

export interface DynamoTokenStoreOptions {
  tables: TokenTables;
  catalogue: Catalogue;
  /** The access policy (past_due grace...): allowances come from the one access decision. */
  policy?: AccessPolicy;
  /** The deployment's decider (the wiring's: it reports stored plans the catalogue lost); default: decided from `catalogue` and `policy`. */
  decide?: AccessDecider;
  now?: () => Date;
  /**
   * Lost races (another writer changed the row first) are retried at once on
   * the row DynamoDB returned, until this many or until `raceBudgetMs` has
   * passed; then TokenContentionError.
   */
  maxRaces?: number;
  raceBudgetMs?: number;
  /** TransactionConflict retries (DynamoDB refusing overlapping transactions) per request. */
  maxConflictRetries?: number;
  /** Users whose last known token state this process keeps. */
  hintCapacity?: number;
  sleep?: (ms: number) => Promise<void>;
}

type OperationOutcome<R> =
  | { kind: 'written'; response: R }
  | { kind: 'replayed'; response: R }
  | { kind: 'conflict' }
  | { kind: 'refused'; remaining: number }
  | { kind: 'missing' };

type CommitOutcome =
  | { kind: 'committed' }
  /** The idempotency record exists (a repeat, or another request under the same key). */
  | { kind: 'key-used'; record: IdempotencyRecord<unknown>; current?: StoredTokenState }
  /** The row is not what the write was planned on; `current` is what it is (absent = no row). */
  | { kind: 'state-changed'; current?: StoredTokenState }
  /** DynamoDB refused an overlapping transaction on one of the items. */
  | { kind: 'transaction-conflict' };

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const randomSuffix = () => randomBytes(6).toString('hex');

/**
 * Token writes as compare-and-set transactions. Each consume or add is ONE
 * TransactWriteItems: an Update of the entitlement row conditioned on the
 * exact state it was planned on (the access decision's inputs: status, tiers,
 * overrides, grace and billing period; and the counters) and on the row not
 * being marked by an account deletion (so no ledger entry can land after
 * deletion purged the ledger), the ledger entries, and the idempotency
 * record (conditioned on not existing): 3 items, 6 write units.
 *
 * The state to plan on comes from an in-process hint: the state this process
 * last read or wrote for the user. A warm process therefore spends one
 * request per consume, the month's reset included. When the hint is missing
 * (first request for the user in this process) the row and the idempotency
 * record are read first (TransactGetItems); when it is stale the write is
 * refused and DynamoDB returns the current row with the refusal
 * (ReturnValuesOnConditionCheckFailure), so the retry needs no extra read.
 * The hint is never trusted for a refusal: a 402 is only answered from a
 * fresh read. Correctness never depends on the hint, only the request count.
 */
export class DynamoTokenStore implements TokenStore {
  private readonly tables: TokenTables;
  private readonly catalogue: Catalogue;
  private readonly policy: AccessPolicy;
  private readonly decide: AccessDecider | undefined;
  private readonly now: () => Date;
  private readonly maxRaces: number;
  private readonly raceBudgetMs: number;
  private readonly maxConflictRetries: number;
  private readonly hintCapacity: number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly hints = new Map<string, StoredTokenState>();
  /** Per-user queue: requests of one process never race each other (a Lambda serves one at a time anyway). */
  private readonly queues = new Map<string, Promise<unknown>>();

  constructor(
    private readonly doc: DynamoDBDocumentClient,
    options: DynamoTokenStoreOptions,
  ) {
    this.tables = options.tables;
    this.catalogue = options.catalogue;
    this.policy = options.policy ?? DEFAULT_ACCESS_POLICY;
    this.decide = options.decide;
    this.now = options.now ?? (() => new Date());
    this.maxRaces = options.maxRaces ?? 200;
    this.raceBudgetMs = options.raceBudgetMs ?? 5000;
    this.maxConflictRetries = options.maxConflictRetries ?? 3;
    this.hintCapacity = options.hintCapacity ?? 10_000;
    this.sleep = options.sleep ?? defaultSleep;
  }

  async consume(request: ConsumeTokensRequest): Promise<ConsumeTokensResult> {
    const outcome = await this.execute(consumeOperation(request));
    switch (outcome.kind) {
      case 'written':
      case 'replayed':
        return { outcome: 'consumed', ...outcome.response, replayed: outcome.kind === 'replayed' };
      case 'refused':
        return { outcome: 'insufficient', remaining: outcome.remaining };
      case 'conflict':
        return { outcome: 'conflict' };
      case 'missing':
        return { outcome: 'unknown-user' };
    }
  }

  async addPurchasedTokens(request: AddTokensRequest): Promise<AddTokensResult> {
    const outcome = await this.execute(addOperation({ ...request, kind: request.kind ?? 'add' }));
    switch (outcome.kind) {
      case 'written':
      case 'replayed':
        return { outcome: 'added', applied: outcome.kind === 'written', remaining: outcome.response.remaining };
      case 'conflict':
        return { outcome: 'conflict' };
      case 'missing':
        return { outcome: 'unknown-user' };
      case 'refused':
        throw new Error('an add is never refused');
    }
  }

  /** The one access decision, on the state a write is planned on, at the write's time. */
  private accessOf(state: StoredTokenState, now: Date) {
    const row = { status: 'none' as const, tier: 'free', ...state };
    return this.decide ? this.decide(row, now) : decideAccess(row, this.catalogue, this.policy, now);
  }

  /**
   * An admin tier. Sticky: in force whatever Stripe says. Otherwise set
   * against the row's Stripe state (status, plan, subscription): read, then
   * written on the condition that this state is still the one read, so a
   * Stripe change landing in between is never mistaken for the state the
   * admin saw.
   */
  async setTier({ userId, tier, sticky }: TierOverride): Promise<EntitlementRecord | undefined> {
    for (let attempt = 1; ; attempt += 1) {
      const current = await this.getEntitlement(userId);
      // Being deleted: as good as gone (and the condition below refuses it should the mark land now).
      if (!current || beingDeleted(current)) return undefined;
      const fields = adminTierFields(tier, current, sticky);
      const names: Record<string, string> = {};
      const now = this.now().toISOString();
      const values: Record<string, unknown> = { ':now': now, ':lastChange': recordedChange({ kind: 'admin' }, now) };
      const sets = Object.entries(fields).map(([field, value]) => {
        names[`#${field}`] = field;
        values[`:${field}`] = value;
        return `#${field} = :${field}`;
      });
      const removed = sticky ? ['adminTier', 'adminTierSetOn'] : ['tierStickyValue'];
      const conditions = ['attribute_exists(userId)', NOT_BEING_DELETED];
      for (const field of ['status', 'plan', 'subscriptionId'] as const) conditions.push(equalsCondition(field, current[field], names, values));
      try {
        const out = await this.doc.send(
          new UpdateCommand({
            TableName: this.tables.entitlements,
            Key: { userId },
            UpdateExpression: `SET ${sets.join(', ')}, updatedAt = :now, lastChange = :lastChange REMOVE ${removed.join(', ')}`,
            ConditionExpression: conditions.join(' AND '),
            ExpressionAttributeNames: names,
            ExpressionAttributeValues: values,
            ReturnValues: 'ALL_NEW',
          }),
        );
        const row = out.Attributes as EntitlementRecord;
        this.remember(userId, row);
        return row;
      } catch (err) {
        if (!(err instanceof ConditionalCheckFailedException)) throw err;
        this.hints.delete(userId);
        // The row went (deleted) or Stripe's state changed in between: read again.
        if (attempt >= this.maxConflictRetries) throw new TokenContentionError(userId, attempt);
      }
    }
  }

  async getEntitlement(userId: string): Promise<EntitlementRecord | undefined> {
    const out = await this.doc.send(new GetCommand({ TableName: this.tables.entitlements, Key: { userId }, ConsistentRead: true }));
    const row = out.Item as EntitlementRecord | undefined;
    if (row) this.remember(userId, row);
    else this.hints.delete(userId);
    return row;
  }

  /** Consume, add and adjust: one at a time per user in this process, each through the optimistic loop. */
  private execute<R>(op: TokenOperation<R>): Promise<OperationOutcome<R>> {
    return this.serial(op.userId, () => this.run(op));
  }

  /** The optimistic loop of every token write. */
  private async run<R>(op: TokenOperation<R>): Promise<OperationOutcome<R>> {
    let known = this.hints.get(op.userId);
    // True when `known` comes from a read that also found no idempotency record.
    let fresh = false;
    let races = 0;
    let conflicts = 0;
    const started = Date.now();
    for (;;) {
      if (!known) {
        const read = await this.read(op.userId, op.key);
        if (read.record) return replayOf(read.record as IdempotencyRecord<R>, op.fingerprint);
        if (!read.row || beingDeleted(read.row)) {
          this.hints.delete(op.userId);
          return { kind: 'missing' };
        }
        known = this.remember(op.userId, read.row);
        fresh = true;
      }
      const now = this.now();
      const decision = op.decide(known, this.accessOf(known, now), now, randomSuffix);
      if (!decision.write) {
        if (fresh) return { kind: 'refused', remaining: decision.remaining };
        known = undefined; // refuse only on a fresh read
        continue;
      }
      const result = await this.commit(op, known, decision, now);
      switch (result.kind) {
        case 'committed':
          this.remember(op.userId, { ...known, ...decision.counters });
          return { kind: 'written', response: decision.response };
        case 'key-used':
          if (result.current) this.remember(op.userId, result.current);
          return replayOf(result.record as IdempotencyRecord<R>, op.fingerprint);
        case 'state-changed':
          if (!result.current) {
            this.hints.delete(op.userId);
            return { kind: 'missing' };
          }
          known = this.remember(op.userId, result.current);
          fresh = false;
          races += 1;
          // Each lost race means another write went through: retry at once, on
          // the state just returned (waiting would only let the winner's next
          // request in first, again and again).
          if (races >= this.maxRaces || Date.now() - started > this.raceBudgetMs) throw new TokenContentionError(op.userId, races);
          continue;
        case 'transaction-conflict':
          conflicts += 1;
          if (conflicts > this.maxConflictRetries) throw new TokenContentionError(op.userId, conflicts);
          await this.backoff(conflicts);
          continue;
      }
    }
  }

  /** The row and the idempotency record, read together and consistently. */
  private async read(userId: string, key: string): Promise<{ row?: EntitlementRecord; record?: IdempotencyRecord<unknown> }> {
    for (let conflicts = 0; ; conflicts++) {
      try {
        const out = await this.doc.send(
          new TransactGetCommand({
            TransactItems: [
              { Get: { TableName: this.tables.entitlements, Key: { userId } } },
              { Get: { TableName: this.tables.idempotency, Key: { key } } },
            ],
          }),
        );
        const [row, record] = out.Responses ?? [];
        return { row: row?.Item as EntitlementRecord | undefined, record: record?.Item as IdempotencyRecord<unknown> | undefined };
      } catch (err) {
        if (!(err instanceof TransactionCanceledException) || !hasConflict(err)) throw err;
        if (conflicts >= this.maxConflictRetries) throw new TokenContentionError(userId, conflicts + 1);
        await this.backoff(conflicts + 1);
      }
    }
  }

  private async commit<R>(op: TokenOperation<R>, planned: StoredTokenState, decision: TokenWriteDecision<R> & { write: true }, now: Date): Promise<CommitOutcome> {
    const names: Record<string, string> = {};
    const values: Record<string, unknown> = { ':now': now.toISOString(), ':lastChange': recordedChange(op.cause, now.toISOString()) };
    const conditions = ['attribute_exists(userId)', NOT_BEING_DELETED];
    for (const field of TOKEN_STATE_FIELDS) conditions.push(equalsCondition(field, planned[field], names, values));
    const counters = decision.counters;
    const sets = (Object.keys(counters) as Array<keyof typeof counters>).map((field) => {
      values[`:${field}`] = counters[field];
      return `#${field} = :${field}`;
    });
    const record = idempotencyRecord(op, decision.response, now);
    try {
      await this.doc.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Update: {
                TableName: this.tables.entitlements,
                Key: { userId: op.userId },
                UpdateExpression: `SET ${sets.join(', ')}, updatedAt = :now, lastChange = :lastChange`,
                ConditionExpression: conditions.join(' AND '),
                ExpressionAttributeNames: names,
                ExpressionAttributeValues: values,
                ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
              },
            },
            ...decision.entries.map((entry) => ({
              Put: { TableName: this.tables.ledger, Item: entry, ConditionExpression: 'attribute_not_exists(entryId)' },
            })),
            {
              Put: {
                TableName: this.tables.idempotency,
                Item: record,
                ConditionExpression: 'attribute_not_exists(#key)',
                ExpressionAttributeNames: { '#key': 'key' },
                ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
              },
            },
          ],
        }),
      );
      return { kind: 'committed' };
    } catch (err) {
      if (err instanceof TransactionCanceledException) {
        const outcome = cancellationOutcome(err, decision.entries.length);
        if (outcome) return outcome;
      }
      throw err;
    }
  }

  private remember(userId: string, row: StoredTokenState): StoredTokenState {
    const state = tokenStateOf(row);
    this.hints.delete(userId);
    this.hints.set(userId, state);
    if (this.hints.size > this.hintCapacity) {
      const oldest = this.hints.keys().next().value;
      if (oldest !== undefined) this.hints.delete(oldest);
    }
    return state;
  }

  private serial<T>(userId: string, task: () => Promise<T>): Promise<T> {
    const previous = this.queues.get(userId) ?? Promise.resolve();
    const result = previous.then(task, task);
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    this.queues.set(userId, tail);
    void tail.then(() => {
      if (this.queues.get(userId) === tail) this.queues.delete(userId);
    });
    return result;
  }

  /** Full jitter, capped at 50 ms. */
  private backoff(attempt: number): Promise<void> {
    return this.sleep(Math.random() * Math.min(50, 4 * 2 ** attempt));
  }

  /**
   * Takes purchased tokens back (a refund or dispute of a top-up) or gives
   * them back (a dispute won), once per key: the same single transaction as
   * consume and add (row update on the planned state and not being deleted,
   * ledger entry with the Stripe id, idempotency record). Rules: domain/token-refunds.ts.
   */
  async adjustPurchasedTokens(request: PurchasedTokenAdjustment): Promise<PurchasedTokenAdjustmentResult> {
    const outcome = await this.execute(adjustmentOperation(request));
    switch (outcome.kind) {
      case 'written':
      case 'replayed':
        return { outcome: outcome.kind === 'written' ? 'applied' : 'duplicate', ...outcome.response };
      case 'conflict':
        return { outcome: 'conflict' };
      case 'missing':
        return { outcome: 'unknown-user' };
      case 'refused':
        throw new Error('an adjustment is never refused');
    }
  }

  /** What the adjustment under `idempotencyKey` did, if it happened (e.g. what a dispute took, to give it back). */
  async earlierConsume(request: ConsumeTokensRequest): Promise<Extract<ConsumeTokensResult, { outcome: 'consumed' | 'conflict' }> | undefined> {
    const op = consumeOperation(request);
    const out = await this.doc.send(new GetCommand({ TableName: this.tables.idempotency, Key: { key: op.key }, ConsistentRead: true }));
    if (!out.Item) return undefined;
    const answer = replayOf(out.Item as IdempotencyRecord<ConsumeResponse>, op.fingerprint);
    return answer.kind === 'replayed' ? { outcome: 'consumed', ...answer.response, replayed: true } : { outcome: 'conflict' };
  }

  async adjustmentOf(userId: string, idempotencyKey: string): Promise<AdjustmentResponse | undefined> {
    const out = await this.doc.send(
      new GetCommand({ TableName: this.tables.idempotency, Key: { key: adjustmentKeys.record(userId, idempotencyKey) }, ConsistentRead: true }),
    );
    return (out.Item as IdempotencyRecord<AdjustmentResponse> | undefined)?.response;
  }
}

export type PurchasedTokenAdjustmentResult =
  | ({ outcome: 'applied' | 'duplicate' } & AdjustmentResponse)
  /** The key was used for another adjustment (e.g. a marker written first): nothing done. */
  | { outcome: 'conflict' }
  | { outcome: 'unknown-user' };

/** `field` still holds `was` (absent: still absent; null: still NULL), for a compare-and-set. */
function equalsCondition(field: string, was: unknown, names: Record<string, string>, values: Record<string, unknown>): string {
  names[`#${field}`] = field;
  if (was === undefined) return `attribute_not_exists(#${field})`;
  if (was === null) {
    values[':nullType'] = 'NULL';
    return `attribute_type(#${field}, :nullType)`;
  }
  values[`:was_${field}`] = was;
  return `#${field} = :was_${field}`;
}

function hasConflict(err: TransactionCanceledException): boolean {
  return (err.CancellationReasons ?? []).some((r) => r.Code === 'TransactionConflict');
}

/**
 * Which condition refused the transaction. Items: [entitlement row,
 * ...`ledgerEntries` ledger entries, idempotency record]. The idempotency
 * record wins: a repeat is answered from it whatever the row says now.
 */
function cancellationOutcome(err: TransactionCanceledException, ledgerEntries: number): CommitOutcome | undefined {
  const reasons = err.CancellationReasons ?? [];
  const [row] = reasons;
  const recordAt = 1 + ledgerEntries;
  const key = reasons[recordAt];
  // Cancellation reasons carry raw attribute values: the document client converts responses, not errors.
  const returned = row?.Item ? (unmarshall(row.Item) as StoredTokenState) : undefined;
  // Being deleted: as good as gone.
  const current = returned && !beingDeleted(returned) ? tokenStateOf(returned) : undefined;
  if (key?.Code === 'ConditionalCheckFailed' && key.Item) {
    return { kind: 'key-used', record: unmarshall(key.Item) as IdempotencyRecord<unknown>, current };
  }
  if (row?.Code === 'ConditionalCheckFailed') return { kind: 'state-changed', current };
  if (hasConflict(err)) return { kind: 'transaction-conflict' };
  // A ledger entry id collided (random suffix): plan again with new ids.
  if (reasons.slice(1, recordAt).some((r) => r.Code === 'ConditionalCheckFailed')) return { kind: 'transaction-conflict' };
  return undefined;
}
