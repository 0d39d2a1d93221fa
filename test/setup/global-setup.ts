import { answersPing } from '../../infra/local/redis';
import { startStackProcess } from '../fixtures/stack-process';

async function assertRedis(url: string): Promise<void> {
  if (!(await answersPing(url))) {
    throw new Error(
      `Integration tests need a real Redis at ${url} (set REDIS_URL to use another).\n` +
        `Start one with: redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no`,
    );
  }
}

/**
 * Starts the real local stack (`npm run local`, on ephemeral ports) once for
 * the integration project, exactly as a developer runs it, and waits for its
 * stack.json. Missing prerequisites fail here with a clear message.
 */
export default async function globalSetup(): Promise<void> {
  const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  await assertRedis(redisUrl);
  const stateDirName = `.local/test-${process.pid}`;
  const stack = await startStackProcess({ stateDirName, redisUrl });
  process.stdout.write(`\n[integration] local stack up in ${stack.state.startupMs} ms (${stateDirName})\n`);
  process.env.LOCAL_STACK_FILE = stack.stateFile;
  (globalThis as Record<string, unknown>).__LOCAL_STACK__ = { pid: stack.pid, stateDir: stack.stateDir };
}
