/** Webhook event ids already applied (duplicates are no-ops). */
export interface ProcessedEvents {
  seen(eventId: string): Promise<boolean>;
  /** Records the id after the event was applied, so a failure lets Stripe's retry run it again. */
  record(eventId: string, type: string): Promise<void>;
}

/** Credits purchased tokens exactly once per `idempotencyKey`. */
export interface TopUpCredits {
  credit(input: { userId: string; tokens: number; idempotencyKey: string; reason: string }): Promise<'applied' | 'duplicate' | 'unknown-user'>;
}
