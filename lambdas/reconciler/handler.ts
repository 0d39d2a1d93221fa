import type { Context } from 'aws-lambda';
import { reconciliation } from '../../shared/wiring/reconcile';
import { runDeadline } from '../../shared/domain/reconcile';
import { logger } from '../../shared/observability/logger';
import { flushMetrics } from '../../shared/observability/metrics';
import { RECONCILE_PASSES, reconcile, type ReconcileDeps, type ReconcilePass, type ReconcileReport } from '../../shared/use-cases/reconcile';

export type ScheduledHandler = (event: unknown, context?: Context) => Promise<ReconcileReport>;

function passOf(event: unknown): ReconcilePass {
  const pass = (event as { pass?: unknown } | null)?.pass;
  if (!RECONCILE_PASSES.includes(pass as ReconcilePass)) throw new Error(`reconciler: the schedule's input must be {"pass": "light" | "full"}, got ${JSON.stringify(event)}`);
  return pass as ReconcilePass;
}

/**
 * Invoked by EventBridge Scheduler with `{"pass": "light" | "full"}`
 * (shared/routes.ts SCHEDULES). Works until its budget or the function's
 * remaining time, whichever ends first; a run that throws is retried by
 * Lambda's asynchronous retries, and resumes from the stored cursors.
 */
export function createReconcilerHandler(deps: ReconcileDeps & { budgetMs: number }): ScheduledHandler {
  return async (event, context) => {
    try {
      const pass = passOf(event);
      const report = await reconcile(deps, pass, runDeadline(Date.now(), deps.budgetMs, context?.getRemainingTimeInMillis?.()));
      logger.info('reconcile run', { ...report });
      return report;
    } finally {
      // The run ends before the function's timeout (runDeadline keeps a reserve): its counts are published here.
      flushMetrics();
    }
  };
}

export const handler = createReconcilerHandler(reconciliation());
