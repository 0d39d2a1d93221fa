import { spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { answersPing } from '../../infra/local/redis';

const ROOT = resolve(__dirname, '..', '..');

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
  const stateDir = join(ROOT, stateDirName);
  rmSync(stateDir, { recursive: true, force: true });
  const stateFile = join(stateDir, 'stack.json');
  const output: string[] = [];
  const child = spawn(process.execPath, [require.resolve('tsx/cli'), join(ROOT, 'infra/local/main.ts')], {
    cwd: ROOT,
    detached: true, // its own process group, so teardown stops every child with it
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      LOCAL_STACK_DIR: stateDirName,
      LOCAL_RANDOM_PORTS: '1',
      LOCAL_REQUIRE_REDIS: '1',
      // Tests run reconcile when they mean to: a scheduled run would re-apply other tests' failed webhooks mid-test.
      LOCAL_SCHEDULES: 'off',
      LOCAL_STACK_PARENT_PID: String(process.pid),
      REDIS_URL: redisUrl,
      LOG_LEVEL: process.env.LOG_LEVEL ?? 'SILENT',
    },
  });
  child.stdout?.on('data', (d: Buffer) => output.push(d.toString()));
  child.stderr?.on('data', (d: Buffer) => output.push(d.toString()));
  const deadline = Date.now() + 90_000;
  while (!existsSync(stateFile)) {
    if (child.exitCode !== null) throw new Error(`The local stack exited during start-up:\n${output.join('')}`);
    if (Date.now() > deadline) {
      process.kill(-child.pid!, 'SIGKILL');
      throw new Error(`The local stack did not start within 90 s:\n${output.join('')}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const state = JSON.parse(readFileSync(stateFile, 'utf8')) as { startupMs: number };
  process.stdout.write(`\n[integration] local stack up in ${state.startupMs} ms (${stateDirName})\n`);
  process.env.LOCAL_STACK_FILE = stateFile;
  (globalThis as Record<string, unknown>).__LOCAL_STACK__ = { pid: child.pid, stateDir };
}
