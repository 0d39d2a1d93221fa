/** Prices and products: the seeded catalogue plus the ad-hoc prices Checkout creates. */
import type { PriceRecord, ProductRecord } from '../catalog';
import { resourceMissing } from '../errors';
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
}
