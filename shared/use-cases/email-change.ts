import type { BillingProvider } from '../ports/billing';
import { normaliseEmail } from '../domain/entitlement';
import { cacheKeys, type ReadThroughCache } from '../ports/cache';
import type { EmailIdentity } from '../ports/email-identity';
import type { KofiEntitlements } from '../ports/entitlements';
import type { KofiSupporters } from '../ports/kofi';
import { EmailTakenError, type EmailOwnership, type UserProfile, type UserStore } from '../ports/users';
import { logger } from '../observability/logger';
import { AccountNotFoundError, EmailTokenRefusedError, InvalidEmailCodeError, NoPendingEmailChangeError } from './errors';
import { attachEmailGrant } from './kofi-webhook';

/**
 * The rule: the premium check by email answers for the account that owns that
 * verified address now. Cognito is the truth of who holds a verified address;
 * DynamoDB follows it through one ownership item per address, written
 * conditionally, so two live profiles never hold one address.
 */
export interface EmailOwnershipDeps {
  users: Pick<UserStore, 'createIfAbsent'> & Pick<EmailOwnership, 'takeOver'>;
  identity: Pick<EmailIdentity, 'currentEmailOf'>;
  /** A taken-over address may have the old holder's premium answer cached. */
  cache: Pick<ReadThroughCache, 'invalidate'>;
}

export interface EmailChangeDeps {
  users: Pick<UserStore, 'get'> & EmailOwnership;
  identity: EmailIdentity;
  cache: ReadThroughCache;
  /** Stripe sends receipts, invoices and dunning to the customer's email: it follows the change. */
  billing: Pick<BillingProvider, 'updateCustomerEmail'>;
  /** A verified address brings its Ko-fi grant onto the account unless another account owns it (as at sign-up); the account keeps the old address's grant (renewals paid there still reach it). */
  kofi: { supporters: Pick<KofiSupporters, 'claimGrant'>; entitlements: KofiEntitlements };
}


/** How often a claim may meet a holder that lost the address before giving up (each round is a conditional write). */
const CLAIM_ROUNDS = 3;

/**
 * A claim this recent may belong to a change being verified right now (claim,
 * then Cognito's verification, then the move: one request, well under a
 * minute). Another change respects it; a sign-up does not, because Cognito
 * has just confirmed the address to the signing-up account, and the mover's
 * verification then fails (Cognito: AliasExistsException).
 */
export const IN_FLIGHT_CLAIM_MS = 60_000;

/**
 * Whether the holder of an ownership item still holds the address in Cognito.
 * It may not: its account was deleted behind our back, or a claim was left by
 * a change that never finished.
 */
async function holderStillOwns(deps: Pick<EmailOwnershipDeps, 'identity'>, holder: string, email: string): Promise<boolean> {
  return (await deps.identity.currentEmailOf(holder)) === email;
}

/**
 * Runs `write` (which claims `email` for the user and throws EmailTakenError
 * when another profile holds it); when the holder no longer owns the address
 * in Cognito, takes the item over from it (conditional on it still being the
 * holder) and writes again. Throws EmailTakenError when the holder still owns it.
 */
async function withOwnership<T>(
  deps: Omit<EmailOwnershipDeps, 'users'> & { users: Pick<EmailOwnership, 'takeOver'> },
  userId: string,
  email: string,
  write: () => Promise<T>,
  options: { respectInFlightClaims: boolean },
): Promise<T> {
  for (let round = 1; ; round++) {
    try {
      return await write();
    } catch (err) {
      if (!(err instanceof EmailTakenError) || err.heldBy === userId || round >= CLAIM_ROUNDS) throw err;
      const claimAge = err.claimedAt ? Date.now() - Date.parse(err.claimedAt) : Infinity;
      if (options.respectInFlightClaims && claimAge < IN_FLIGHT_CLAIM_MS) throw err;
      if (await holderStillOwns(deps, err.heldBy, email)) throw err;
      logger.warn('email ownership taken over from an account that no longer holds the address', { userId, from: err.heldBy });
      if (await deps.users.takeOver(email, err.heldBy, userId)) {
        // Never fails the sign-up (Cognito has confirmed it already): a miss here is bounded by the cache TTL.
        await deps.cache.invalidate([cacheKeys.premium(email)]).catch((cause: unknown) =>
          logger.error('premium answer of a taken-over address not invalidated; stale until its TTL', { userId, reason: String(cause) }),
        );
      }
    }
  }
}

/**
 * Sign-up (post-confirmation): the profile and its address's ownership item in
 * one write. A retried trigger finds its profile (false). Cognito has just
 * confirmed this address for this account, so a holder that Cognito does not
 * confirm loses the item.
 */
export async function createProfileOwningEmail(deps: EmailOwnershipDeps, profile: UserProfile): Promise<boolean> {
  return withOwnership(deps, profile.userId, profile.email, () => deps.users.createIfAbsent(profile), { respectInFlightClaims: false });
}

/**
 * POST /me/email. Primary course:
 * 1. refuse an address another live account holds (409);
 * 2. ask Cognito for the change: the pool keeps the verified address and sends a code to the new one;
 * 3. remember the pending address on the profile.
 * Nothing about ownership changes until the code is verified.
 */
export async function startEmailChange(
  deps: EmailChangeDeps,
  userId: string,
  rawEmail: string,
): Promise<{ email: string | null; pendingEmail: string | null }> {
  const email = normaliseEmail(rawEmail);
  const profile = await deps.users.get(userId, { consistent: true });
  if (!profile || profile.deletingAt) throw new AccountNotFoundError('no live profile for this account');
  if (profile.email === email) return { email, pendingEmail: null };
  const owner = await deps.users.ownerOf(email);
  if (owner && owner !== userId && (await holderStillOwns(deps, owner, email))) throw new EmailTakenError(email, owner);
  await deps.identity.requestEmailChange(userId, email);
  await deps.users.setPendingEmail(userId, email);
  return { email: profile.email ?? null, pendingEmail: email };
}

/**
 * POST /me/email/verify. Primary course:
 * 1. claim the new address (conditional: 409 when another live account holds it);
 * 2. verify the code with Cognito using the caller's access token (skipped when
 *    Cognito already holds the new address verified: a retry after a failure);
 * 3. the Stripe customer's email follows (receipts must not go to a released address);
 * 4. move the profile to the new address and release the old one, in one transaction;
 * 5. claim and attach the new address's Ko-fi grant, if it has an unowned one (monotonic: a retry is a no-op);
 * 6. drop the cached premium answers of both addresses and the account's entitlements.
 * A wrong or expired code gives the claim back and changes nothing.
 */
export async function confirmEmailChange(deps: EmailChangeDeps, caller: { userId: string; accessToken: string }, code: string): Promise<{ email: string }> {
  const profile = await deps.users.get(caller.userId, { consistent: true });
  if (!profile || profile.deletingAt) throw new AccountNotFoundError('no live profile for this account');
  const to = profile.pendingEmail;
  if (!to) {
    throw new NoPendingEmailChangeError('no email change is waiting for a code: POST /me/email first');
  }
  const from = profile.email as string | undefined;

  const claimed = await withOwnership(deps, caller.userId, to, () => deps.users.claim(caller.userId, to), { respectInFlightClaims: true });
  if (claimed === 'gone') throw new AccountNotFoundError('no live profile for this account');
  if ((await deps.identity.currentEmailOf(caller.userId)) !== to) {
    // An unexpected failure keeps the claim: Cognito may have verified before the answer was lost (a retry then completes).
    const outcome = await deps.identity.confirmEmailChange(caller.accessToken, code);
    if (outcome !== 'verified') {
      await deps.users.releaseClaim(caller.userId, to);
      if (outcome === 'taken') throw new EmailTakenError(to, 'unknown');
      if (outcome === 'token-refused') throw new EmailTokenRefusedError('Cognito refused the access token: sign in again');
      throw new InvalidEmailCodeError(outcome);
    }
  }
  // Before the move: a failure here (503) leaves the claim and Cognito's change in place, and the retry completes both.
  if (profile.stripeCustomerId) await deps.billing.updateCustomerEmail(profile.stripeCustomerId, to);
  await deps.users.moveEmail(caller.userId, from, to);
  const kofi = await attachEmailGrant(deps.kofi, caller.userId, to, { kind: 'kofi' });
  await deps.cache.invalidate([
    ...(from ? [cacheKeys.premium(from)] : []),
    cacheKeys.premium(to),
    ...(kofi === 'written' ? [cacheKeys.entitlement(caller.userId)] : []),
  ]);
  return { email: to };
}
