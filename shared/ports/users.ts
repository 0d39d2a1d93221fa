/** A user's profile row: who they are and which Stripe customer bills them. */
export interface UserProfile {
  userId: string;
  email: string;
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

export interface UserStore {
  /** Creates the profile unless it exists; returns false when it already did (a retried trigger). */
  createIfAbsent(profile: UserProfile): Promise<boolean>;
  get(userId: string, options?: { consistent?: boolean }): Promise<UserProfile | undefined>;
  findByEmail(email: string): Promise<UserProfile | undefined>;
  findByStripeCustomer(customerId: string): Promise<UserProfile | undefined>;
  /** Records the customer id unless one is already set; returns the id that is stored. */
  attachStripeCustomer(userId: string, customerId: string): Promise<string>;
  /** Forgets the customer id if it is still `customerId` (the customer was deleted in Stripe) and bumps the generation. */
  detachStripeCustomer(userId: string, customerId: string): Promise<void>;
  markDeleting(userId: string, at: string): Promise<void>;
  delete(userId: string): Promise<void>;
}
