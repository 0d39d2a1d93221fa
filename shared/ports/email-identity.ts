/**
 * What the email rules need from the identity provider (Cognito): it is the
 * truth of which verified address an account holds. Defined by
 * shared/use-cases/email-change.ts.
 */
export interface EmailIdentity {
  /**
   * The account's email attribute, normalised; null when the account is gone.
   * In a pool that keeps the original until the new address is verified, this
   * is the address the account proved it owns (or signed up with).
   */
  currentEmailOf(userId: string): Promise<string | null>;
  /**
   * Starts a change: the pool keeps the original address until the new one
   * is verified (keepOriginal) and sends a code to the new one.
   */
  requestEmailChange(userId: string, email: string): Promise<void>;
  /** Submits the code the user received, with the user's own access token. */
  confirmEmailChange(accessToken: string, code: string): Promise<EmailCodeOutcome>;
}

/** `taken`: the address became another account's verified address meanwhile. */
/** `token-refused`: Cognito no longer accepts the access token (signed out globally, revoked): the caller must sign in again. */
export type EmailCodeOutcome = 'verified' | 'invalid-code' | 'expired-code' | 'taken' | 'token-refused';
