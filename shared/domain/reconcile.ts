/**
 * The rules of reconciliation that need no I/O: how far back failed Stripe
 * deliveries are looked for, how long a run may work, and how Stripe calls
 * are paced.
 */

/** Stripe keeps events (and answers `events.list`) for 30 days. */
export const STRIPE_EVENT_RETENTION_SECONDS = 30 * 24 * 3600;

/**
 * The oldest event creation time (epoch seconds) a failed-delivery pass asks
 * for: the stored high-water mark (inclusive: events of that same second are
 * listed again, and are no-ops by their id), never older than Stripe keeps.
 */
/**
 * The newest creation time the light pass lists. `delivery_success=false`
 * also lists events Stripe is still delivering for the first time: those
 * younger than `inFlightSeconds` (RECONCILE_IN_FLIGHT_SECONDS, 10 minutes)
 * are left to the live webhook, so the light pass does not race it.
 */
export function failedDeliveriesTo(nowSeconds: number, inFlightSeconds: number): number {
  return nowSeconds - inFlightSeconds;
}

export function failedDeliveriesFrom(nowSeconds: number, highWaterMark: number | undefined): number {
  const retained = nowSeconds - STRIPE_EVENT_RETENTION_SECONDS;
  return highWaterMark === undefined ? retained : Math.max(highWaterMark, retained);
}

/** What a run leaves free before the function's own timeout: the last call and the cursor write must fit. */
export const RUN_RESERVE_MS = 10_000;

/** When a run stops starting new work: its budget, or the function's remaining time less the reserve, whichever is first. */
export function runDeadline(nowMs: number, budgetMs: number, remainingMs: number | undefined): Date {
  const available = remainingMs === undefined ? budgetMs : Math.min(budgetMs, remainingMs - RUN_RESERVE_MS);
  return new Date(nowMs + Math.max(0, available));
}

/**
 * Fixed pacing: calls start at least `1000 / perSecond` ms apart, well under
 * Stripe's limits (100 read requests a second live, 25 in test mode) however
 * fast the rest of the run is. Returns when the next call may start and how
 * long to wait for it.
 */
export function nextCallSlot(previousAt: number | undefined, nowMs: number, perSecond: number): { at: number; waitMs: number } {
  const interval = 1000 / perSecond;
  const at = previousAt === undefined ? nowMs : Math.max(nowMs, previousAt + interval);
  return { at, waitMs: at - nowMs };
}
