import { randomBytes } from 'node:crypto';

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** A random base62 string: the look of Stripe's object ids. */
export function randomToken(length: number): string {
  const bytes = randomBytes(length);
  let out = '';
  for (let i = 0; i < length; i++) out += ALPHABET[(bytes[i] as number) % ALPHABET.length];
  return out;
}

/** `newId('cus')` -> `cus_R8f3kQ2LmNa7Xz`; Checkout ids use `cs_test_` and a longer tail, as in test mode. */
export function newId(prefix: string, length = 14): string {
  return `${prefix}_${randomToken(length)}`;
}
