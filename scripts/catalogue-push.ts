import type Stripe from 'stripe';
import type { CatalogueFile } from '../shared/domain/catalogue';

/**
 * `npm run catalogue -- push`: the Stripe products and prices the catalogue
 * sells, created when missing, found again on every later run:
 *
 * - a price the file already names for the environment, that exists with the
 *   file's amount, currency and interval, is the price;
 * - else the price with the item's lookup key (Stripe's way to find a price
 *   by a stable name; it encodes the amount, so a new amount is a new price,
 *   as Stripe prices are immutable);
 * - else a new price, on the item's product (a deterministic product id,
 *   created when missing), with that lookup key. Create calls carry
 *   idempotency keys, so two pushes at once make one of each.
 */

export interface PushedItem {
  kind: 'plan' | 'top-up';
  name: string;
  productId: string;
  priceId: string;
  created: boolean;
  /** The file already names this price for the environment. */
  inFile: boolean;
}

export interface PushReport {
  items: PushedItem[];
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
/** At most 200 characters in Stripe; the amount is part of it (a price's amount never changes). */
export const lookupKeyOf = (item: Pick<Sellable, 'kind' | 'name' | 'amount' | 'currency' | 'interval'>) =>
  `ent:${item.kind}:${item.name}:${item.amount}${item.currency}:${item.interval ?? 'once'}`;

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

const matches = (price: Stripe.Price, item: Sellable) =>
  price.active && price.unit_amount === item.amount && price.currency === item.currency && (price.recurring?.interval ?? null) === item.interval;

async function priceNamedInFile(stripe: Stripe, item: Sellable): Promise<Stripe.Price | undefined> {
  for (const id of item.ids) {
    const price = await stripe.prices.retrieve(id).catch((err: { code?: string }) => {
      if (err.code === 'resource_missing') return undefined;
      throw err;
    });
    if (price && matches(price, item)) return price;
  }
  return undefined;
}

async function ensureProduct(stripe: Stripe, item: Sellable): Promise<string> {
  const id = productIdOf(item);
  const found = await stripe.products.list({ ids: [id], limit: 1 });
  if (found.data.length > 0) return id;
  try {
    await stripe.products.create({ id, name: item.displayName, metadata: item.metadata }, { idempotencyKey: `catalogue-push:product:${id}` });
  } catch (err) {
    // Another push created it in between.
    if ((err as { code?: string }).code !== 'resource_already_exists') throw err;
  }
  return id;
}

export async function pushCatalogue(stripe: Stripe, file: CatalogueFile, environment: string): Promise<PushReport> {
  const items: PushedItem[] = [];
  for (const item of sellables(file, environment)) {
    const named = await priceNamedInFile(stripe, item);
    if (named) {
      items.push({ kind: item.kind, name: item.name, productId: typeof named.product === 'string' ? named.product : named.product.id, priceId: named.id, created: false, inFile: true });
      continue;
    }
    const lookupKey = lookupKeyOf(item);
    const productId = await ensureProduct(stripe, item);
    const existing = (await stripe.prices.list({ lookup_keys: [lookupKey], active: true, limit: 1 })).data[0];
    if (existing && matches(existing, item)) {
      items.push({ kind: item.kind, name: item.name, productId, priceId: existing.id, created: false, inFile: item.ids.includes(existing.id) });
      continue;
    }
    const price = await stripe.prices.create(
      {
        product: productId,
        currency: item.currency,
        unit_amount: item.amount,
        lookup_key: lookupKey,
        nickname: item.displayName,
        metadata: item.metadata,
        ...(item.interval ? { recurring: { interval: item.interval } } : {}),
      },
      { idempotencyKey: `catalogue-push:price:${lookupKey}` },
    );
    items.push({ kind: item.kind, name: item.name, productId, priceId: price.id, created: true, inFile: false });
  }
  return { items };
}
