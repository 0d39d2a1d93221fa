/** A user's profile row: who they are and which Stripe customer bills them. */
export interface UserProfile {
  userId: string;
  /**
   * The verified address the user owns now (normalised). Absent only when
   * another account took the address over (the holder's Cognito address had
   * changed) and the holder's current address could not be adopted.
   */
  email: string;
  /** An address change started through POST /me/email, waiting for its code. */
  pendingEmail?: string;
  stripeCustomerId?: string;
  /**
   * How many of the user's Stripe customers were deleted (in Stripe): part of
   * the customer idempotency key, so a re-creation is a new customer, not a
   * replay of the deleted one. Absent = 0.
   */
  stripeCustomerGeneration?: number;
  createdAt: string;
  /** Set when account deletion starts: webhooks and writes for this user stop. */
  deletingAt?: string;
}

/** The address is owned by another profile (its ownership item names `heldBy`). */
export class EmailTakenError extends Error {
  constructor(
    readonly email: string,
    readonly heldBy: string,
    /** When the holder claimed it (ISO time), when known. */
    readonly claimedAt?: string,
  ) {
    super('the email address is owned by another account');
    this.name = 'EmailTakenError';
  }
}

export interface UserStore {
  /**
   * Creates the profile and claims its email in one write, unless the profile
   * exists; returns false when it already did (a retried trigger). Throws
   * EmailTakenError when another profile owns the address: no two live
   * profiles ever hold one email.
   */
  createIfAbsent(profile: UserProfile): Promise<boolean>;
  get(userId: string, options?: { consistent?: boolean }): Promise<UserProfile | undefined>;
  /** The profile that owns this address now: its ownership item, then the profile (both strongly consistent). */
  findByEmail(email: string): Promise<UserProfile | undefined>;
  findByStripeCustomer(customerId: string): Promise<UserProfile | undefined>;
  /**
   * Records the customer id unless one is already set; returns the id that is
   * stored, or undefined when the user is gone or being deleted (nothing written).
   */
  attachStripeCustomer(userId: string, customerId: string): Promise<string | undefined>;
  /** Forgets the customer id if it is still `customerId` (the customer was deleted in Stripe) and bumps the generation. */
  detachStripeCustomer(userId: string, customerId: string): Promise<void>;
  markDeleting(userId: string, at: string): Promise<void>;
  /** Deletes the profile and releases the address it owns, in one write. */
  delete(userId: string): Promise<void>;
}

/** Who owns which address: the ownership items, always changed together with the profiles. */
export interface EmailOwnership {
  /** The user id owning the address, strongly consistent. */
  ownerOf(email: string): Promise<string | undefined>;
  /** Claims the address for the user (idempotent for its owner); 'gone' when the user is gone or being deleted (nothing written); throws EmailTakenError. */
  claim(userId: string, email: string): Promise<'claimed' | 'gone'>;
  /** Records the address a change waits to verify (only on a live profile). */
  setPendingEmail(userId: string, email: string): Promise<void>;
  /**
   * The verified change: the profile's email becomes `to` and `from` is
   * released, in one transaction that requires the user to own `to`.
   */
  moveEmail(userId: string, from: string | undefined, to: string): Promise<void>;
  /**
   * `from` no longer holds the address in Cognito: ownership passes to `to`
   * and `from`'s profile forgets it, in one transaction conditioned on
   * `from` still being the owner. False when someone else changed it first.
   */
  takeOver(email: string, from: string, to: string): Promise<boolean>;
  /** Gives up the address if the user owns it and its profile does not hold it (a failed change). */
  releaseClaim(userId: string, email: string): Promise<void>;
  /** Releases the address if the user still owns it: for the deletion flow. */
  release(userId: string, email: string): Promise<void>;
}
