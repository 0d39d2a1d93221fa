import { rmSync } from 'node:fs';

/** Stops the local stack's process group and waits until it is gone. */
export default async function globalTeardown(): Promise<void> {
  const stack = (globalThis as Record<string, unknown>).__LOCAL_STACK__ as { pid: number; stateDir: string } | undefined;
  if (!stack) return;
  const alive = () => {
    try {
      process.kill(-stack.pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  try {
    process.kill(stack.pid, 'SIGTERM');
  } catch {
    // already gone
  }
  const deadline = Date.now() + 10_000;
  while (alive() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  if (alive()) process.kill(-stack.pid, 'SIGKILL');
  rmSync(stack.stateDir, { recursive: true, force: true });
}
