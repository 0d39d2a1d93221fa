import type { CredentialGrantEntry, UsageKind } from '../domain/usage';

export interface StoredApiKey {
  keyHash: string;
  userId: string;
  prefix: string;
  createdAt: string;
}

export interface ApiKeyStore {
  /**
   * Replaces the user's key in one transaction: the old one is gone when this resolves. 'gone' = no such user / being deleted;
   * 'contended' = other rotations for the user kept winning (nothing of this one was written).
   */
  rotate(userId: string, next: Omit<StoredApiKey, 'userId'>): Promise<'rotated' | 'gone' | 'contended'>;
  /** The key with this hash, by key lookup (GetItem, strongly consistent). */
  findByHash(keyHash: string): Promise<StoredApiKey | undefined>;
}

/** `userGone`: the user no longer exists or is being deleted, and nothing was written. */
export type CountResult = { counted: boolean; used: number; userGone?: true };

export interface UsageStore {
  /**
   * Counts one call in the month's counter, atomically, unless it would pass
   * `limit` (null = unlimited) or the user is gone or being deleted. Returns
   * the count after the call, or the current count when refused.
   */
  count(userId: string, kind: UsageKind, period: string, limit: number | null, expiresAt: number): Promise<CountResult>;
  /** The month's count (0 when nothing was counted). */
  used(userId: string, kind: UsageKind, period: string): Promise<number>;
  /** Appends a credential grant to the usage log; 'gone' (nothing written) when the user is gone or being deleted. */
  logCredentialGrant(entry: CredentialGrantEntry): Promise<'logged' | 'gone'>;
}
