import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { createServer } from 'node:net';

/** A child process the local stack owns and must stop on shutdown. */
export interface OwnedProcess {
  name: string;
  child: ChildProcess;
  /** Last lines of output, shown when the process fails to start. */
  output: () => string;
  stop: () => Promise<void>;
}

export function startProcess(name: string, command: string, args: string[], options: SpawnOptions = {}): OwnedProcess {
  return ownChild(name, spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options }));
}

/** Takes charge of a spawned child: keeps its last lines of output and stops it (TERM, then KILL after 3 s). */
export function ownChild(name: string, child: ChildProcess, spawnHint = ''): OwnedProcess {
  const lines: string[] = [];
  const keep = (chunk: Buffer) => {
    lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
    if (lines.length > 40) lines.splice(0, lines.length - 40);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  child.on('error', (err) => lines.push(`spawn error: ${err.message}${spawnHint}`));
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    child.once('exit', () => resolve());
    child.once('error', () => resolve());
  });
  return {
    name,
    child,
    output: () => lines.join('\n'),
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** An ephemeral port that was free a moment ago (tests run stacks side by side). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/** Polls `probe` until it resolves true, failing with the process output after `timeoutMs`. */
export async function waitUntil(what: string, probe: () => Promise<boolean>, timeoutMs: number, owner?: OwnedProcess): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (owner && (owner.child.exitCode !== null || owner.child.signalCode !== null)) {
      throw new Error(`${what}: ${owner.name} exited early (code ${owner.child.exitCode}).\n${owner.output()}`);
    }
    try {
      if (await probe()) return;
    } catch {
      // not ready yet
    }
    if (Date.now() > deadline) {
      throw new Error(`${what} did not become ready within ${timeoutMs} ms.${owner ? `\n${owner.output()}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Finds an executable on PATH without running a shell. */
export function onPath(command: string): string | undefined {
  const dirs = (process.env.PATH ?? '').split(':').filter(Boolean);
  for (const dir of dirs) {
    const candidate = `${dir}/${command}`;
    try {
      if (existsSync(candidate) && statSync(candidate).isFile()) return candidate;
    } catch {
      // unreadable PATH entry
    }
  }
  return undefined;
}
