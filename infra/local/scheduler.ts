/**
 * EventBridge Scheduler's stand-in: each SCHEDULES entry invokes its
 * function's handler in-process with its input, on the expression from
 * cdk.json context (else its default), as the deployed schedule would. A
 * `rate(...)` runs every N; a `cron(...)` runs every 24 hours from start (a
 * laptop has no use for the exact hour). A run still going when the next is
 * due is not doubled.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FUNCTIONS, SCHEDULES, type ScheduleName } from '../../shared/routes';
import { lambdaContext, type HandlerTable } from './gateway';

const UNIT_MS: Record<string, number> = { minute: 60_000, hour: 3_600_000, day: 86_400_000 };

/** How often a schedule expression fires, locally. */
export function localEveryMs(expression: string): number {
  const rate = /^rate\((\d+) (minute|hour|day)s?\)$/.exec(expression);
  if (rate) return Number(rate[1]) * (UNIT_MS[rate[2] as string] as number);
  if (/^cron\(.+\)$/.test(expression)) return UNIT_MS.day as number;
  throw new Error(`not a schedule expression: ${expression}`);
}

/** The expression of each schedule as `cdk deploy` would read it. */
export function scheduleExpressions(repoRoot: string): Record<ScheduleName, string> {
  const context = (JSON.parse(readFileSync(join(repoRoot, 'cdk.json'), 'utf8')) as { context?: Record<string, unknown> }).context ?? {};
  return Object.fromEntries(
    Object.entries(SCHEDULES).map(([name, schedule]) => [name, typeof context[schedule.contextKey] === 'string' ? (context[schedule.contextKey] as string) : schedule.defaultExpression]),
  ) as Record<ScheduleName, string>;
}

export interface LocalSchedules {
  stop(): void;
}

export function startLocalSchedules(handlers: () => HandlerTable, expressions: Record<ScheduleName, string>): LocalSchedules {
  const timers: NodeJS.Timeout[] = [];
  for (const [name, schedule] of Object.entries(SCHEDULES) as Array<[ScheduleName, (typeof SCHEDULES)[ScheduleName]]>) {
    let running = false;
    const fire = async () => {
      const handler = handlers()[schedule.handler];
      if (running || !handler) return;
      running = true;
      try {
        const timeoutMs = (FUNCTIONS[schedule.handler].timeoutSeconds ?? 10) * 1000;
        await handler(schedule.input, lambdaContext(schedule.handler, randomBytes(8).toString('hex'), timeoutMs));
      } catch (err) {
        process.stderr.write(`[scheduler] ${name} failed: ${(err as Error).stack ?? String(err)}\n`);
      } finally {
        running = false;
      }
    };
    timers.push(setInterval(() => void fire(), localEveryMs(expressions[name])));
  }
  return { stop: () => timers.forEach(clearInterval) };
}
