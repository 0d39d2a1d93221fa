import type { DeletionJobs, IdentityDirectory, ProfileSweep } from '../ports/account-deletion';

export interface ReconcileIdentitiesDeps {
  profiles: ProfileSweep;
  identity: IdentityDirectory;
  jobs: DeletionJobs;
  now: () => Date;
  /** A deletion whose job has not moved for this long is resumed. */
  stallAfterMs: number;
  /** Starts (or resumes) the deletion saga for a user: inline, or by queueing it for the worker. */
  startDeletion: (userId: string, reason: 'identity-gone' | 'stalled') => Promise<void>;
}

export interface ReconcileReport {
  checked: number;
  /** Profiles whose Cognito user no longer exists (deleted behind our back, e.g. Cognito DeleteUser). */
  identityGone: string[];
  /** Deletions that had stopped (a failed step nobody retried) and were resumed. */
  stalled: string[];
  /** Set when the deadline ended the sweep early: pass it back to continue. */
  cursor?: string;
}

/**
 * The identity sweep, the safety net behind the CloudTrail rule:
 * 1. page through every profile,
 * 2. a profile being deleted whose job is missing or has not moved for
 *    `stallAfterMs` -> resume its deletion,
 * 3. a live profile whose Cognito user is gone -> run the deletion saga
 *    (Stripe canceled, rows purged), exactly as DELETE /me/account would.
 * A profile is only written after its Cognito user existed (post-confirmation),
 * so a fresh "not found" for its sub means the user was deleted.
 */
export async function reconcileIdentities(deps: ReconcileIdentitiesDeps, options: { cursor?: string; deadline?: Date } = {}): Promise<ReconcileReport> {
  const report: ReconcileReport = { checked: 0, identityGone: [], stalled: [] };
  let cursor = options.cursor;
  do {
    const page = await deps.profiles.page(cursor);
    for (const profile of page.profiles) {
      report.checked += 1;
      if (profile.deletingAt) {
        const job = await deps.jobs.get(profile.userId);
        const lastMove = Date.parse(job?.updatedAt ?? profile.deletingAt);
        if (!job?.completed.includes('done') && deps.now().getTime() - lastMove >= deps.stallAfterMs) {
          await deps.startDeletion(profile.userId, 'stalled');
          report.stalled.push(profile.userId);
        }
        continue;
      }
      if (!(await deps.identity.userExists(profile.userId))) {
        await deps.startDeletion(profile.userId, 'identity-gone');
        report.identityGone.push(profile.userId);
      }
    }
    cursor = page.cursor;
  } while (cursor && !(options.deadline && deps.now().getTime() >= options.deadline.getTime()));
  return cursor ? { ...report, cursor } : report;
}
