import { createHash, randomBytes } from 'node:crypto';

/**
 * End-user API keys: `evk_live_` + 32 random bytes in base64url (43
 * characters). Shown once; stored only as the SHA-256 of the whole key (hex,
 * the table's partition key) beside a short display prefix.
 */
export const API_KEY_PREFIX = 'evk_live_';
export const API_KEY_RANDOM_BYTES = 32;
const API_KEY_PATTERN = /^evk_live_[A-Za-z0-9_-]{43}$/;
/** Characters of the key kept for display (`evk_live_AbCd`): 24 bits of the random part, useless for guessing. */
export const API_KEY_DISPLAY_LENGTH = API_KEY_PREFIX.length + 4;

export interface NewApiKey {
  apiKey: string;
  keyHash: string;
  prefix: string;
}

export function generateApiKey(random: (size: number) => Buffer = randomBytes): NewApiKey {
  const apiKey = `${API_KEY_PREFIX}${random(API_KEY_RANDOM_BYTES).toString('base64url')}`;
  return { apiKey, keyHash: hashApiKey(apiKey), prefix: apiKey.slice(0, API_KEY_DISPLAY_LENGTH) };
}

/**
 * The lookup key. A fast hash is right here: keys carry 256 bits of
 * randomness, so there is nothing to brute-force, and lookups by digest make
 * the comparison independent of how much of a guess matched.
 */
export function hashApiKey(apiKey: string): string {
  return createHash('sha256').update(apiKey, 'utf8').digest('hex');
}

/** Shape check before any lookup: anything else cannot be a key we issued. */
export function isWellFormedApiKey(value: string): boolean {
  return API_KEY_PATTERN.test(value);
}
