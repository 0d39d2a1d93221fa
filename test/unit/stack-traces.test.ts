import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { buildSync } from 'esbuild';
import { installLazySourceMaps } from '../../shared/observability/stack-traces';

/**
 * A minified bundle built like a function's (linked source map beside it),
 * run without --enable-source-maps: the stack of an error names the
 * TypeScript source and line, from the map read when the stack is formatted.
 */
const ROOT = resolve(__dirname, '../..');
const ENTRY = [
  "import { installLazySourceMaps } from './shared/observability/stack-traces';",
  'export const installed = installLazySourceMaps();',
  "export function failing(): never { throw new Error('boom'); }",
  'export function caller(): never { return failing(); }',
  '',
].join('\n');

describe('lazy source maps (stack traces of a bundle run without --enable-source-maps)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'stack-traces-'));
  const bundle = join(dir, 'index.js');
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  beforeAll(() => {
    buildSync({
      stdin: { contents: ENTRY, resolveDir: ROOT, sourcefile: 'probe-entry.ts', loader: 'ts' },
      bundle: true,
      outfile: bundle,
      platform: 'node',
      format: 'cjs',
      minify: true,
      sourcemap: true,
      sourcesContent: false,
      logLevel: 'error',
    });
  });

  const run = (nodeOptions: string) =>
    spawnSync(process.execPath, ['-e', `const m = require(${JSON.stringify(bundle)}); try { m.caller(); } catch (e) { process.stdout.write(JSON.stringify({ installed: m.installed, stack: e.stack })); }`], {
      env: { PATH: process.env.PATH ?? '', NODE_OPTIONS: nodeOptions },
      encoding: 'utf8',
    });

  it('maps the frames of the bundle to the TypeScript source, keeping the message', () => {
    const out = JSON.parse(run('').stdout) as { installed: boolean; stack: string };
    expect(out.installed).toBe(true);
    expect(out.stack.split('\n')[0]).toBe('Error: boom');
    expect(out.stack).toMatch(/probe-entry\.ts:3:\d+/);
    expect(out.stack).not.toContain('index.js:1:');
    // The name the caller called it by, not the minified one.
    expect(out.stack.split('\n')[1]).toMatch(/^    at failing \(/);
  });

  it('stands aside when Node.js maps the stack itself (--enable-source-maps)', () => {
    const out = JSON.parse(run('--enable-source-maps').stdout) as { installed: boolean; stack: string };
    expect(out.installed).toBe(false);
    expect(out.stack).toMatch(/probe-entry\.ts:3:\d+/);
  });

  it('does nothing outside a bundle (tsx, jest map stacks their own way)', () => {
    const before = Error.prepareStackTrace;
    expect(installLazySourceMaps(join(ROOT, 'shared/observability/stack-traces.ts'))).toBe(false);
    expect(Error.prepareStackTrace).toBe(before);
  });
});
