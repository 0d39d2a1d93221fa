/** Prices and products: the seeded catalogue plus the ad-hoc prices Checkout creates. */
import type { PriceRecord, ProductRecord } from '../catalog';
import { invalidRequest, resourceMissing } from '../errors';
import { newId } from '../ids';
import { StripeStore } from './store';

export abstract class PriceModels extends StripeStore {
  price(id: string, param?: string): PriceRecord & { active: boolean; created: number } {
    const price = this.prices.get(id);
    if (!price) throw resourceMissing('price', id, param);
    return price;
  }

  product(id: string): ProductRecord & { active: boolean; created: number } {
    const product = this.products.get(id);
    if (!product) throw resourceMissing('product', id);
    return product;
  }

  /** An ad-hoc price from `price_data` (inactive, like Stripe's). */
  createAdHocPrice(data: { currency: string; unitAmount: number; productName?: string; product?: string; recurring: PriceRecord['recurring']; metadata?: Record<string, string> }): string {
    const created = this.now();
    let productId = data.product;
    if (productId) {
      this.product(productId);
    } else {
      productId = newId('prod');
      this.products.set(productId, {
        id: productId,
        name: data.productName ?? 'Ad-hoc item',
        description: '',
        defaultPrice: '',
        metadata: data.metadata ?? {},
        active: false,
        created,
      });
    }
    const id = newId('price');
    this.prices.set(id, {
      id,
      product: productId,
      nickname: '',
      unitAmount: data.unitAmount,
      lookupKey: '',
      recurring: data.recurring,
      metadata: {},
      active: false,
      created,
    });
    return id;
  }

  /** POST /v1/products: an id may be chosen (Stripe refuses one already taken). */
  createProduct(data: { id?: string; name: string; description?: string; metadata: Record<string, string>; active: boolean }): string {
    const id = data.id ?? newId('prod');
    if (this.products.has(id)) throw invalidRequest(`Product already exists.`, 'id', 'resource_already_exists');
    this.products.set(id, { id, name: data.name, description: data.description ?? '', defaultPrice: '', metadata: data.metadata, active: data.active, created: this.now() });
    return id;
  }

  /**
   * A lookup key names one price in the account, archived ones included (an
   * archived price keeps its key): Stripe refuses to give it to another
   * unless `transfer_lookup_key` moves it, atomically.
   */
  private claimLookupKey(lookupKey: string, forPrice: string | undefined, transfer: boolean): void {
    const holder = [...this.prices.values()].find((p) => p.lookupKey === lookupKey && p.id !== forPrice);
    if (!holder) return;
    if (!transfer) throw invalidRequest(`A price (\`${holder.id}\`) already uses that lookup key.`, 'lookup_key');
    holder.lookupKey = '';
  }

  /** POST /v1/prices. */
  createPrice(data: {
    product: string;
    unitAmount: number;
    lookupKey?: string;
    transferLookupKey: boolean;
    nickname?: string;
    recurring: PriceRecord['recurring'];
    metadata: Record<string, string>;
    active: boolean;
  }): string {
    this.product(data.product);
    if (data.lookupKey) this.claimLookupKey(data.lookupKey, undefined, data.transferLookupKey);
    const id = newId('price');
    this.prices.set(id, {
      id,
      product: data.product,
      nickname: data.nickname ?? '',
      unitAmount: data.unitAmount,
      lookupKey: data.lookupKey ?? '',
      recurring: data.recurring,
      metadata: data.metadata,
      active: data.active,
      created: this.now(),
    });
    return id;
  }

  /**
   * POST /v1/prices/:id: only what Stripe lets change on a price (amount,
   * currency and interval are fixed for life). `active: false` archives it:
   * it keeps its lookup key and its subscriptions.
   */
  updatePrice(id: string, change: { active?: boolean; lookupKey?: string; transferLookupKey: boolean; nickname?: string; metadata?: Record<string, string> }): void {
    const price = this.price(id);
    if (change.lookupKey !== undefined) this.claimLookupKey(change.lookupKey, id, change.transferLookupKey);
    if (change.lookupKey !== undefined) price.lookupKey = change.lookupKey;
    if (change.active !== undefined) price.active = change.active;
    if (change.nickname !== undefined) price.nickname = change.nickname;
    if (change.metadata !== undefined) price.metadata = change.metadata;
  }
}
