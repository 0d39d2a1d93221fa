import { loadConfig } from '../../shared/config';
import { DELETION_CONFIG, deletionBudget, wireDeletion } from '../../shared/adapters/deletion-wiring';
import { cognitoCaller } from '../../shared/http/auth';
import { httpHandler } from '../../shared/http/handler';
import { logger } from '../../shared/observability/logger';
import { jsonResponse } from '../../shared/http/response';
import { describeDeletion, runAccountDeletion } from '../../shared/use-cases/delete-account';

const config = loadConfig(DELETION_CONFIG);
const { deps, queue } = wireDeletion(config);

export const handler = httpHandler(async (event, context) => {
  const caller = cognitoCaller(event, config.cognito.COGNITO_CLIENT_IDS);
  const budget = deletionBudget(config.deletion.DELETION_TIME_BUDGET_MS, context?.getRemainingTimeInMillis?.());
  let progress;
  try {
    // The access token's `username` is the pool's user name (the sub for email sign-in pools).
    progress = await runAccountDeletion(deps, { userId: caller.userId, username: caller.username ?? caller.userId, source: 'api' }, budget);
    // Out of time: the worker finishes it. A busy job is already someone's: its runner queues it if needed.
    if (progress.state === 'in-progress' && !progress.busy) await queue.send({ kind: 'continue-deletion', userId: caller.userId });
  } catch (err) {
    // A step failed (recorded in the job). The caller may never call again, and after the profile step
    // the sweep has no profile to find the job by: the worker resumes it in a minute, whatever the caller does.
    await queue.send({ kind: 'continue-deletion', userId: caller.userId }, 60).catch((queueErr: unknown) => {
      logger.warn('could not queue the deletion to resume; the next call or the sweep resumes it', { reason: String(queueErr) });
    });
    // The one error policy: a dependency that failed is 503 (call again), anything else 500.
    throw err;
  }
  return jsonResponse(progress.state === 'deleted' ? 200 : 202, describeDeletion(progress));
});
