import { awsSection, cognitoSection, deletionSection, loadConfig, redisSection, stripeSection, tablesSection } from '../../shared/config';
import { deletionBudget, wireDeletion } from '../../shared/adapters/deletion-wiring';
import { cognitoCaller } from '../../shared/http/auth';
import { AppError, DependencyUnavailableError } from '../../shared/http/errors';
import { httpHandler } from '../../shared/http/handler';
import { logger } from '../../shared/observability/logger';
import { jsonResponse } from '../../shared/http/response';
import { describeDeletion, runAccountDeletion } from '../../shared/use-cases/delete-account';

const config = loadConfig({
  aws: awsSection,
  tables: tablesSection,
  redis: redisSection,
  stripe: stripeSection,
  cognito: cognitoSection,
  deletion: deletionSection,
});
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
    if (err instanceof AppError) throw err;
    // Any step that failed (Redis, DynamoDB, Stripe, Cognito, the queue) is recorded in the job: 503,
    // and the next call (or the reconcile sweep) resumes there.
    logger.error('account deletion stopped; the next call resumes it', { error: err as Error });
    throw new DependencyUnavailableError(`account deletion stopped: ${(err as Error).name}`);
  }
  return jsonResponse(progress.state === 'deleted' ? 200 : 202, describeDeletion(progress));
});
