import type Stripe from 'stripe';
import type { CatalogueFile } from '../shared/domain/catalogue';

/**
 * `npm run catalogue -- push`: the Stripe products and prices the catalogue
 * sells, created when missing, found again on every later run:
 *
 * - a price the file already names for the environment, that is active with
 *   the file's amount, currency and interval, is the price;
 * - else the price holding the item's lookup key (one stable name per item,
 *   `ent:plan:<name>`): Stripe keeps a lookup key on an archived price and a
 *   key names one price per account, so the holder is looked up archived or
 *   not. A holder with the file's amount, currency and interval is the price
 *   (reactivated when archived);
 * - else an archived price the file names with those terms (an amount changed
 *   back), reactivated and given the key;
 * - else a new price on the item's product (a deterministic product id,
 *   created when missing), taking the lookup key over from a holder with
 *   another amount (`transfer_lookup_key`). Stripe prices are immutable, so
 *   the old one stays as it is: its subscribers keep paying it.
 *
 * Create calls carry idempotency keys naming what they replace, so two pushes
 * at once make one of each, and a push after a change of amount back and
 * forth never replays an older create.
 */

export type PushOutcome = 'exists' | 'created' | 'reactivated';

export interface PushedItem {
  kind: 'plan' | 'top-up';
  name: string;
  productId: string;
  priceId: string;
  outcome: PushOutcome;
  /** The file already names this price for the environment. */
  inFile: boolean;
  /** The price that held the lookup key with another amount: kept, for the subscribers on it. */
  replaced?: string;
  /**
   * The environment's ids as the file should list them: this price first
   * (Checkout sells a plan's first price), then every id already there (and a
   * replaced price), so subscribers on older prices keep their plan.
   */
  fileIds: string[];
  /** `fileIds` differs from what the file lists now: the operator has ids to add (or to reorder). */
  fileChanged: boolean;
}

export interface PushReport {
  items: PushedItem[];
}

export interface PushOptions {
  /** The Stripe mode the environment's ids must come from: a price of the other mode stops the push. */
  livemode?: boolean;
}

/** Stripe answered with an object of the other mode (a test-mode id for a live environment, or the reverse). */
export class StripeModeMismatch extends Error {
  constructor(id: string, expectedLivemode: boolean) {
    super(`Stripe returned ${id} in ${expectedLivemode ? 'test' : 'live'} mode, but this environment needs ${expectedLivemode ? 'live' : 'test'}-mode ids: nothing printed`);
    this.name = 'StripeModeMismatch';
  }
}

interface Sellable {
  kind: 'plan' | 'top-up';
  name: string;
  displayName: string;
  amount: number;
  currency: string;
  interval: 'day' | 'week' | 'month' | 'year' | null;
  ids: string[];
  metadata: Record<string, string>;
}

/** Stripe product ids may be chosen: one per catalogue item, so a rerun finds it. */
export const productIdOf = (item: Pick<Sellable, 'kind' | 'name'>) => `ent_${item.kind === 'plan' ? 'plan' : 'topup'}_${item.name}`;
/**
 * The item's stable name in Stripe (at most 200 characters there): it moves to
 * the newest price when the amount changes, so it says nothing about the amount.
 */
export const lookupKeyOf = (item: Pick<Sellable, 'kind' | 'name'>) => `ent:${item.kind === 'plan' ? 'plan' : 'topup'}:${item.name}`;

/** A price's terms in one word: a create for other terms is another request. */
const termsOf = (item: Pick<Sellable, 'amount' | 'currency' | 'interval'>) => `${item.amount}${item.currency}:${item.interval ?? 'once'}`;

function sellables(file: CatalogueFile, environment: string): Sellable[] {
  const plans = file.plans.flatMap((p): Sellable[] =>
    p.price
      ? [{ kind: 'plan', name: p.name, displayName: p.displayName, ...p.price, ids: p.stripePrices?.[environment] ?? [], metadata: { catalogue_plan: p.name } }]
      : [],
  );
  const packs = file.topUps.map(
    (t): Sellable => ({
      kind: 'top-up',
      name: t.name,
      displayName: t.displayName ?? `${t.tokens} tokens`,
      amount: t.price.amount,
      currency: t.price.currency,
      interval: null,
      ids: t.stripePrices?.[environment] ?? [],
      metadata: { catalogue_top_up: t.name, tokens: String(t.tokens) },
    }),
  );
  return [...plans, ...packs];
}

/** Same amount, currency and interval, active or not. */
const sameTerms = (price: Stripe.Price, item: Sellable) =>
  price.unit_amount === item.amount && price.currency === item.currency && (price.recurring?.interval ?? null) === item.interval;

function checkMode<T extends { id: string; livemode: boolean }>(object: T, options: PushOptions): T {
  if (object.livemode !== (options.livemode ?? false)) throw new StripeModeMismatch(object.id, options.livemode ?? false);
  return object;
}

/** The first price the file names that is active with the item's terms, else the first archived one with them. */
async function pricesNamedInFile(stripe: Stripe, item: Sellable, options: PushOptions): Promise<{ active?: Stripe.Price; archived?: Stripe.Price }> {
  let archived: Stripe.Price | undefined;
  for (const id of item.ids) {
    const price = await stripe.prices.retrieve(id).catch((err: { code?: string }) => {
      if (err.code === 'resource_missing') return undefined;
      throw err;
    });
    if (!price || !sameTerms(checkMode(price, options), item)) continue;
    if (price.active) return { active: price };
    archived ??= price;
  }
  return archived ? { archived } : {};
}

async function ensureProduct(stripe: Stripe, item: Sellable, options: PushOptions): Promise<string> {
  const id = productIdOf(item);
  const found = await stripe.products.list({ ids: [id], limit: 1 });
  if (found.data.length > 0) return checkMode(found.data[0]!, options).id;
  try {
    checkMode(await stripe.products.create({ id, name: item.displayName, metadata: item.metadata }, { idempotencyKey: `catalogue-push:product:${id}` }), options);
  } catch (err) {
    // Another push created it in between.
    if ((err as { code?: string }).code !== 'resource_already_exists') throw err;
  }
  return id;
}

/**
 * The price for `item`: the lookup key's holder when its terms match
 * (reactivated if archived), else an archived price of the file with the
 * item's terms (reactivated, taking the key), else a new one taking the key.
 */
async function priceByLookupKey(
  stripe: Stripe,
  item: Sellable,
  productId: string,
  archivedInFile: Stripe.Price | undefined,
  options: PushOptions,
): Promise<{ price: Stripe.Price; outcome: PushOutcome; replaced?: string }> {
  const lookupKey = lookupKeyOf(item);
  // No `active` filter: an archived price keeps its lookup key, and the key is unique per account.
  const holder = (await stripe.prices.list({ lookup_keys: [lookupKey], limit: 1 })).data[0];
  if (holder && sameTerms(checkMode(holder, options), item)) {
    if (holder.active) return { price: holder, outcome: 'exists' };
    return { price: checkMode(await stripe.prices.update(holder.id, { active: true }), options), outcome: 'reactivated' };
  }
  // An amount changed back: the file's archived price of these terms sells again rather than a duplicate of it.
  if (archivedInFile) {
    const price = await stripe.prices.update(archivedInFile.id, { active: true, lookup_key: lookupKey, ...(holder ? { transfer_lookup_key: true } : {}) });
    return { price: checkMode(price, options), outcome: 'reactivated', ...(holder ? { replaced: holder.id } : {}) };
  }
  const price = await stripe.prices.create(
    {
      product: productId,
      currency: item.currency,
      unit_amount: item.amount,
      lookup_key: lookupKey,
      // Atomically off the holder (another amount): its subscribers keep it, new sales get this one.
      ...(holder ? { transfer_lookup_key: true } : {}),
      nickname: item.displayName,
      metadata: item.metadata,
      ...(item.interval ? { recurring: { interval: item.interval } } : {}),
    },
    // Names what it replaces: a replayed create can only be this very request, never an older price of these terms.
    { idempotencyKey: `catalogue-push:price:${lookupKey}:${termsOf(item)}:replaces:${holder?.id ?? 'none'}` },
  );
  return { price: checkMode(price, options), outcome: 'created', ...(holder ? { replaced: holder.id } : {}) };
}

const productOf = (price: Stripe.Price) => (typeof price.product === 'string' ? price.product : price.product.id);

export async function pushCatalogue(stripe: Stripe, file: CatalogueFile, environment: string, options: PushOptions = {}): Promise<PushReport> {
  // Before any write: any price of the account shows the key's mode (an empty account is checked on each answer below).
  const sample = (await stripe.prices.list({ limit: 1 })).data[0];
  if (sample) checkMode(sample, options);
  const items: PushedItem[] = [];
  for (const item of sellables(file, environment)) {
    const named = await pricesNamedInFile(stripe, item, options);
    const found = named.active
      ? { price: named.active, outcome: 'exists' as const, productId: productOf(named.active) }
      : await (async () => {
          const productId = await ensureProduct(stripe, item, options);
          return { ...(await priceByLookupKey(stripe, item, productId, named.archived, options)), productId };
        })();
    const { price, outcome, productId } = found;
    const replaced = 'replaced' in found ? found.replaced : undefined;
    const fileIds = [price.id, ...item.ids.filter((id) => id !== price.id), ...(replaced && !item.ids.includes(replaced) ? [replaced] : [])];
    const fileChanged = fileIds.length !== item.ids.length || fileIds.some((id, i) => id !== item.ids[i]);
    items.push({ kind: item.kind, name: item.name, productId, priceId: price.id, outcome, inFile: item.ids.includes(price.id), ...(replaced ? { replaced } : {}), fileIds, fileChanged });
  }
  return { items };
}
