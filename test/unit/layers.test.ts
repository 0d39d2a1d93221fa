import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

/**
 * The layers of shared/ and lambdas/, lowest first, and what each may import
 * (type-only imports count: they couple the code all the same). A lower layer
 * never imports a higher one: domain knows nothing else, adapters never know
 * HTTP or the use cases, use cases never know adapters or HTTP, and only the
 * composition root (shared/wiring/) and the handlers put the pieces together.
 */
const MAY_IMPORT: Record<string, readonly string[]> = {
  domain: ['domain'],
  ports: ['domain', 'ports'],
  config: ['config', 'domain'],
  observability: ['observability'],
  adapters: ['adapters', 'ports', 'domain', 'config', 'observability'],
  'use-cases': ['use-cases', 'ports', 'domain', 'observability'],
  // The OpenAPI document is built from the route manifest.
  http: ['http', 'routes', 'use-cases', 'ports', 'domain', 'observability'],
  // The route manifest names the tables each function may touch.
  routes: ['routes', 'adapters'],
  wiring: ['wiring', 'adapters', 'use-cases', 'http', 'ports', 'domain', 'config', 'observability'],
  lambdas: ['wiring', 'adapters', 'use-cases', 'http', 'ports', 'domain', 'config', 'observability'],
};

const ROOT = resolve(__dirname, '../..');

function layerOf(file: string): string | undefined {
  const rel = relative(ROOT, file).split('/');
  if (rel[0] === 'lambdas') return 'lambdas';
  if (rel[0] !== 'shared') return undefined;
  return rel[1] === 'routes.ts' ? 'routes' : rel[1];
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return path.endsWith('.ts') ? [path] : [];
  });
}

/** Every relative import of a file, static or `import('...')` in a type, resolved to a path. */
function importsOf(file: string): string[] {
  const source = readFileSync(file, 'utf8');
  const specifiers = [...source.matchAll(/(?:from\s+|import\s*\(\s*)['"](\.{1,2}\/[^'"]+)['"]/g)].map((m) => m[1]!);
  return specifiers.map((s) => resolve(dirname(file), s));
}

const files = [...sourceFiles(join(ROOT, 'shared')), ...sourceFiles(join(ROOT, 'lambdas'))];

describe('layers', () => {
  it('knows the layer of every file of shared/ and lambdas/', () => {
    const unknown = files.filter((f) => !(layerOf(f)! in MAY_IMPORT)).map((f) => relative(ROOT, f));
    expect(unknown).toEqual([]);
  });

  it('no file imports a layer above its own, another function, or anything outside shared/', () => {
    const violations: string[] = [];
    for (const file of files) {
      const from = layerOf(file)!;
      for (const target of importsOf(file)) {
        const to = layerOf(target);
        const rel = `${relative(ROOT, file)} -> ${relative(ROOT, target)}`;
        if (to === undefined) violations.push(`${rel} (outside shared/)`);
        else if (from === 'lambdas' && to === 'lambdas') violations.push(`${rel} (one function imports another)`);
        else if (!MAY_IMPORT[from]!.includes(to)) violations.push(`${rel} (${from} may not import ${to})`);
      }
    }
    expect(violations).toEqual([]);
  });

  it('catches a violation (the check itself works)', () => {
    const adapter = join(ROOT, 'shared/adapters/redis/cache.ts');
    expect(MAY_IMPORT[layerOf(adapter)!]).not.toContain(layerOf(join(ROOT, 'shared/http/errors.ts')));
    expect(importsOf(join(ROOT, 'lambdas/token-consume/handler.ts')).map(layerOf)).toEqual(expect.arrayContaining(['wiring', 'use-cases', 'http']));
  });
});
