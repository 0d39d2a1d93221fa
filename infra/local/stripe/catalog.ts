import { lookupKeyOf, productIdOf } from '../../../scripts/catalogue-push';
import type { CatalogueFile } from '../../../shared/domain/catalogue';

/**
 * The products and prices every emulator starts with: the three subscription
 * tiers of ARCHITECTURE.md's local catalogue and a one-time token pack.
 * Ids are fixed so tests, the CLI and a developer's curl can name them.
 */

export type TierName = 'basic' | 'pro' | 'enterprise';

export const PRICE_IDS = {
  basic: 'price_basic_monthly',
  pro: 'price_pro_monthly',
  enterprise: 'price_enterprise_monthly',
  tokenPack: 'price_token_pack_100',
} as const;
export type EmulatorPrices = { -readonly [K in keyof typeof PRICE_IDS]: string };

/** Tokens one unit of the token pack price buys (also in its metadata, where a handler reads it). */
export const TOKENS_PER_PACK = 100;

/** Tier names and their historical aliases (creator = pro, agency = enterprise). */
const TIER_ALIASES: Record<string, TierName> = { basic: 'basic', pro: 'pro', creator: 'pro', enterprise: 'enterprise', agency: 'enterprise' };

export function tierPrice(tier: string): string | undefined {
  const name = TIER_ALIASES[tier.trim().toLowerCase()];
  return name ? PRICE_IDS[name] : undefined;
}

export interface PriceRecord {
  id: string;
  product: string;
  nickname: string;
  unitAmount: number;
  lookupKey: string;
  recurring: { interval: 'month'; intervalCount: number } | null;
  metadata: Record<string, string>;
}

export interface ProductRecord {
  id: string;
  name: string;
  description: string;
  defaultPrice: string;
  metadata: Record<string, string>;
}

export const CATALOG: { products: ProductRecord[]; prices: PriceRecord[] } = {
  products: [
    { id: 'prod_basic', name: 'Basic', description: 'Basic plan', defaultPrice: PRICE_IDS.basic, metadata: { tier: 'basic' } },
    { id: 'prod_pro', name: 'Pro', description: 'Pro plan', defaultPrice: PRICE_IDS.pro, metadata: { tier: 'pro' } },
    { id: 'prod_enterprise', name: 'Enterprise', description: 'Enterprise plan', defaultPrice: PRICE_IDS.enterprise, metadata: { tier: 'enterprise' } },
    {
      id: 'prod_token_pack',
      name: 'Token pack',
      description: `${TOKENS_PER_PACK} tokens that never expire`,
      defaultPrice: PRICE_IDS.tokenPack,
      metadata: { tokens: String(TOKENS_PER_PACK) },
    },
  ],
  prices: [
    {
      id: PRICE_IDS.basic,
      product: 'prod_basic',
      nickname: 'Basic monthly',
      unitAmount: 999,
      lookupKey: 'basic',
      recurring: { interval: 'month', intervalCount: 1 },
      metadata: { tier: 'basic' },
    },
    {
      id: PRICE_IDS.pro,
      product: 'prod_pro',
      nickname: 'Pro monthly',
      unitAmount: 1999,
      lookupKey: 'pro',
      recurring: { interval: 'month', intervalCount: 1 },
      metadata: { tier: 'pro' },
    },
    {
      id: PRICE_IDS.enterprise,
      product: 'prod_enterprise',
      nickname: 'Enterprise monthly',
      unitAmount: 4999,
      lookupKey: 'enterprise',
      recurring: { interval: 'month', intervalCount: 1 },
      metadata: { tier: 'enterprise' },
    },
    {
      id: PRICE_IDS.tokenPack,
      product: 'prod_token_pack',
      nickname: `${TOKENS_PER_PACK} tokens`,
      unitAmount: 500,
      lookupKey: 'token_pack_100',
      recurring: null,
      metadata: { tokens: String(TOKENS_PER_PACK) },
    },
  ],
};

/**
 * The catalogue file's "local" prices the built-in catalogue lacks (a plan or
 * top-up pushed with `npm run catalogue -- push --env local`, its ids added to
 * the file): the emulator keeps no state between starts, so it starts with
 * them, under the ids the file names and the product ids and lookup keys push
 * gives them. The file stays the truth: a restart finds what push created.
 */
export function catalogueSeed(file: CatalogueFile, environment = 'local'): { products: ProductRecord[]; prices: PriceRecord[] } {
  const builtIn = new Map(CATALOG.prices.map((p) => [p.id, p]));
  const products: ProductRecord[] = [];
  const prices: PriceRecord[] = [];
  const add = (item: { kind: 'plan' | 'top-up'; name: string; displayName: string; amount: number; recurring: boolean; ids: string[]; metadata: Record<string, string> }) => {
    for (const id of item.ids) {
      // A built-in price listed for another amount: Checkout would sell the built-in amount while /v1/tiers shows the file's.
      const known = builtIn.get(id);
      if (known && known.unitAmount !== item.amount) {
        throw new Error(`${item.kind} ${item.name}: ${id} is the emulator's built-in price of ${known.unitAmount}, the file says ${item.amount}; push the new amount (npm run catalogue -- push --env local) and list its id first`);
      }
    }
    const ids = item.ids.filter((id) => !builtIn.has(id));
    if (ids.length === 0) return;
    const product = productIdOf(item);
    products.push({ id: product, name: item.displayName, description: item.displayName, defaultPrice: ids[0]!, metadata: item.metadata });
    ids.forEach((id, i) =>
      prices.push({
        id,
        product,
        nickname: item.displayName,
        unitAmount: item.amount,
        // One price holds a lookup key: the file's first (the one Checkout sells).
        lookupKey: i === 0 ? lookupKeyOf(item) : '',
        recurring: item.recurring ? { interval: 'month', intervalCount: 1 } : null,
        metadata: item.metadata,
      }),
    );
  };
  for (const plan of file.plans) {
    if (plan.price) add({ kind: 'plan', name: plan.name, displayName: plan.displayName, amount: plan.price.amount, recurring: true, ids: plan.stripePrices?.[environment] ?? [], metadata: { catalogue_plan: plan.name } });
  }
  for (const pack of file.topUps) {
    add({ kind: 'top-up', name: pack.name, displayName: pack.displayName ?? `${pack.tokens} tokens`, amount: pack.price.amount, recurring: false, ids: pack.stripePrices?.[environment] ?? [], metadata: { catalogue_top_up: pack.name, tokens: String(pack.tokens) } });
  }
  return { products, prices };
}
