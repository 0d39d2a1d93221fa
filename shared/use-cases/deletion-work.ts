import type { DeletionQueue, DeletionWork, ProfileSweep } from '../ports/account-deletion';
import { logger } from '../observability/logger';
import { runAccountDeletion, type DeletionBudget, type DeletionDeps, type DeletionProgress } from './delete-account';
import { reconcileIdentities, type ReconcileIdentitiesDeps } from './reconcile-identities';

export interface DeletionWorkDeps {
  saga: DeletionDeps;
  queue: DeletionQueue;
  profiles: ProfileSweep;
  /** DELETION_TIME_BUDGET_MS: how long one run works before handing over. */
  budgetMs: number;
  /** DELETION_STALL_AFTER_MS: a job untouched for this long is resumed by the sweep. */
  stallAfterMs: number;
}

/**
 * A run's budget: work until `DELETION_TIME_BUDGET_MS` (or until 5 s before
 * the function times out, whichever is first), and hold the job's lease until
 * the function can no longer be running.
 */
export function deletionBudget(budgetMs: number, remainingMs: number | undefined, now = Date.now()): DeletionBudget {
  const remaining = remainingMs ?? budgetMs + 30_000;
  return { deadline: new Date(now + Math.max(0, Math.min(budgetMs, remaining - 5000))), leaseUntil: new Date(now + remaining + 1000) };
}

/** The identity sweep as the worker and the reconciler run it: each deletion it finds is queued for the worker. */
export function queuedIdentitySweep(deps: DeletionWorkDeps): ReconcileIdentitiesDeps {
  return {
    profiles: deps.profiles,
    identity: deps.saga.identity,
    jobs: deps.saga.jobs,
    now: deps.saga.now,
    stallAfterMs: deps.stallAfterMs,
    startDeletion: (userId) => deps.queue.send({ kind: 'continue-deletion', userId, source: 'sweep' }),
  };
}

/**
 * DELETE /me/account. Primary course:
 * 1. run the deletion saga for the caller until the budget ends;
 * 2. out of time: hand the job to the worker's queue (a busy job is already someone's);
 * 3. a step failed: queue a resume in a minute whatever the caller does, and fail.
 */
export async function requestAccountDeletion(
  deps: DeletionWorkDeps,
  caller: { userId: string; username: string },
  remainingMs: number | undefined,
): Promise<DeletionProgress> {
  const budget = deletionBudget(deps.budgetMs, remainingMs);
  try {
    const progress = await runAccountDeletion(deps.saga, { ...caller, source: 'api' }, budget);
    if (progress.state === 'in-progress' && !progress.busy) await deps.queue.send({ kind: 'continue-deletion', userId: caller.userId });
    return progress;
  } catch (err) {
    // The caller may never call again, and after the profile step the sweep has no
    // profile to find the job by: the worker resumes it in a minute.
    await deps.queue.send({ kind: 'continue-deletion', userId: caller.userId }, 60).catch((queueErr: unknown) => {
      logger.warn('could not queue the deletion to resume; the next call or the sweep resumes it', { reason: String(queueErr) });
    });
    throw err;
  }
}

/**
 * One message of the deletion worker. Primary course:
 * 1. `continue-deletion`: run the saga from its checkpoint; out of time, queue the next run;
 * 2. `reconcile-identities`: sweep a page of profiles for users gone from Cognito or
 *    stalled deletions, start their deletion, and queue the next page.
 */
export async function performDeletionWork(deps: DeletionWorkDeps, work: DeletionWork, remainingMs: number | undefined): Promise<void> {
  const budget = deletionBudget(deps.budgetMs, remainingMs);
  if (work.kind === 'continue-deletion') {
    const progress = await runAccountDeletion(deps.saga, { userId: work.userId, source: work.source ?? 'api' }, budget);
    if (progress.state === 'deleted') return;
    // Busy: the runner holding the job queues its own continuation when it runs out of time, and
    // if it dies, its lease ends with it (SQS redelivers a worker's message; the sweep resumes a route's).
    if (!progress.busy) await deps.queue.send({ kind: 'continue-deletion', userId: work.userId });
    return;
  }
  const report = await reconcileIdentities(queuedIdentitySweep(deps), { cursor: work.cursor, deadline: budget.deadline });
  logger.info('identity sweep', { checked: report.checked, identityGone: report.identityGone.length, stalled: report.stalled.length, more: Boolean(report.cursor) });
  if (report.cursor) await deps.queue.send({ kind: 'reconcile-identities', cursor: report.cursor });
}
