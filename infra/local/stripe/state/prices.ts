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
   * POST /v1/prices. A lookup key names one active price: Stripe refuses a
   * second unless `transfer_lookup_key` moves it to the new price.
   */
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
    if (data.lookupKey) {
      const holder = [...this.prices.values()].find((p) => p.lookupKey === data.lookupKey);
      if (holder && !data.transferLookupKey) throw invalidRequest(`A price (\`${holder.id}\`) already uses that lookup key.`, 'lookup_key');
      if (holder) holder.lookupKey = '';
    }
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
}
