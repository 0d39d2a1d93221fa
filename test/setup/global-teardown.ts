import { stopStackProcess } from '../fixtures/stack-process';

/** Stops the local stack's process group and waits until it is gone. */
export default async function globalTeardown(): Promise<void> {
  const stack = (globalThis as Record<string, unknown>).__LOCAL_STACK__ as { pid: number; stateDir: string } | undefined;
  if (stack) await stopStackProcess(stack);
}
