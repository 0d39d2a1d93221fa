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

/** Every specifier a source imports: `from '...'`, a bare `import '...'`, `import('...')` (types too) and `require('...')`. */
function specifiersIn(source: string): string[] {
  return [...source.matchAll(/(?:\bfrom\s+|^\s*import\s+|\bimport\s*\(\s*|\brequire\s*\(\s*)['"]([^'"]+)['"]/gm)].map((m) => m[1]!);
}

/** Every relative import of a file, resolved to a path. */
function importsOf(file: string, source = readFileSync(file, 'utf8')): string[] {
  return specifiersIn(source)
    .filter((s) => s.startsWith('.'))
    .map((s) => resolve(dirname(file), s));
}

/**
 * The packages the inner layers may use: the rules and the use cases stay
 * free of SDKs (only adapters know AWS, Stripe or Redis).
 */
const PACKAGES: Record<string, readonly string[]> = {
  // zod: published schemas (the entitlement.changed detail) are domain facts, and zod is not an SDK.
  domain: ['node:crypto', 'zod'],
  ports: [],
  'use-cases': ['node:crypto'],
};

/** The layer violations of one file (`source` lets a test plant one). */
function violationsOf(file: string, source = readFileSync(file, 'utf8')): string[] {
  const from = layerOf(file)!;
  const found: string[] = [];
  for (const target of importsOf(file, source)) {
    const to = layerOf(target);
    const rel = `${relative(ROOT, file)} -> ${relative(ROOT, target)}`;
    if (to === undefined) found.push(`${rel} (outside shared/)`);
    else if (from === 'lambdas' && to === 'lambdas') found.push(`${rel} (one function imports another)`);
    else if (!MAY_IMPORT[from]!.includes(to)) found.push(`${rel} (${from} may not import ${to})`);
  }
  const packages = PACKAGES[from];
  if (packages) {
    for (const pkg of specifiersIn(source).filter((s) => !s.startsWith('.'))) {
      if (!packages.includes(pkg)) found.push(`${relative(ROOT, file)} -> ${pkg} (${from} may not use this package)`);
    }
  }
  return found;
}

const files = [...sourceFiles(join(ROOT, 'shared')), ...sourceFiles(join(ROOT, 'lambdas'))];

describe('layers', () => {
  it('knows the layer of every file of shared/ and lambdas/', () => {
    const unknown = files.filter((f) => !(layerOf(f)! in MAY_IMPORT)).map((f) => relative(ROOT, f));
    expect(unknown).toEqual([]);
  });

  it('no file imports a layer above its own, another function, anything outside shared/, or (inner layers) an SDK', () => {
    expect(files.flatMap((file) => violationsOf(file))).toEqual([]);
  });

  it('reports planted violations of every kind (the check itself works)', () => {
    const adapter = join(ROOT, 'shared/adapters/redis/cache.ts');
    const domain = join(ROOT, 'shared/domain/access.ts');
    const planted = [
      [adapter, "import type { AppError } from '../../http/errors';"],
      [adapter, "import '../../use-cases/errors';"],
      [adapter, "const w = require('../../wiring/aws');"],
      [domain, "type P = import('../ports/cache').ReadThroughCache;"],
      [domain, "import { DynamoDBClient } from '@aws-sdk/client-dynamodb';"],
      [join(ROOT, 'lambdas/health/handler.ts'), "import { handler } from '../entitlements/handler';"],
    ] as const;
    for (const [file, line] of planted) {
      expect({ line, found: violationsOf(file, `${line}\n`).length }).toEqual({ line, found: 1 });
    }
  });
});

describe('imports that decide what a function loads at cold start', () => {
  /** `import { z } from 'zod'` is a namespace object esbuild cannot tree-shake: all of zod (~440 KB) in the bundle. */
  const NAMED_Z = /import\s*\{\s*z\s*\}\s*from\s*['"]zod['"]/;

  it('zod is imported as a namespace (import * as z), never as the named z', () => {
    expect(files.filter((file) => NAMED_Z.test(readFileSync(file, 'utf8'))).map((file) => relative(ROOT, file))).toEqual([]);
    expect(NAMED_Z.test("import { z } from 'zod';")).toBe(true);
  });

  /**
   * A module-level schema built by a plain call: esbuild must keep it (the
   * call might have effects), used or not. A top-level `const` is a schema
   * when its initializer uses zod (`z.`) or derives from another schema of
   * the file (`other.extend(...)`, `other.meta(...)`); it must be built by
   * an annotated IIFE, `/* @__PURE__ *\/ (() => ...)()`.
   */
  function eagerSchemas(source: string): string[] {
    const schemas = new Set<string>();
    const offenders: string[] = [];
    for (const start of source.matchAll(/^(?:export )?(?:const|let) (\w+)(?:: [^=\n]+)? =/gm)) {
      const name = start[1]!;
      // The initializer: up to the first `;` outside brackets.
      let depth = 0;
      let end = start.index + start[0].length;
      for (; end < source.length; end += 1) {
        const c = source[end]!;
        if ('([{'.includes(c)) depth += 1;
        else if (')]}'.includes(c)) depth -= 1;
        else if (c === ';' && depth === 0) break;
      }
      const text = source.slice(start.index + start[0].length, end).trim();
      // A function (a helper that builds schemas when called) is not built at load.
      const definesFunction = /^(async\s*)?(<[^>]*>\s*)?\([^)]*\)\s*(:\s*[^=]+)?=>/.test(text) || text.startsWith('function');
      if (definesFunction && !text.endsWith(')()')) continue;
      const derived = /^(\w+)\./.exec(text)?.[1];
      if (!/\bz\.|\bz\b\s*\n/.test(text) && !(derived && schemas.has(derived))) continue;
      schemas.add(name!);
      if (!/^\/\* @__PURE__ \*\/ \(\(\) =>[\s\S]*\)\(\)$/.test(text)) offenders.push(name!);
    }
    return offenders;
  }

  it('module-level zod schemas are built by @__PURE__ calls, so a bundle drops the ones its function never uses', () => {
    const offenders = files.flatMap((file) => eagerSchemas(readFileSync(file, 'utf8')).map((name) => `${relative(ROOT, file)}: ${name}`));
    expect(offenders).toEqual([]);
    // The check itself: the slips it must catch, and the one form it accepts.
    const pure = 'export const a = /* @__PURE__ */ (() => z.object({ a: z.string() }))();';
    expect(eagerSchemas(pure)).toEqual([]);
    for (const slip of [
      'export const b = z.object({ a: z.string() });',
      'export const b: Schema = z\n  .object({ a: z.string() });',
      'const b =\n  z.object({ a: z.string() });',
      'const b = (() => z.object({ a: z.string() }))();',
      'const b = /* @__PURE__ */ z.object({ a: z.string() });',
      `${pure}\nconst b = a.extend({ c: z.number() });`,
      `${pure}\nconst b = a.meta({ description: 'x' });`,
    ]) {
      expect({ slip, offenders: eagerSchemas(slip) }).toEqual({ slip, offenders: ['b'] });
    }
  });

  it('runtime code reads the catalogue model, not the module that builds the file schema', () => {
    // shared/config/catalogue.ts requires the schema only where it validates text (synth, local stack, scripts).
    const importers = files.filter((file) => !file.endsWith(join('shared', 'config', 'catalogue.ts')) && !file.endsWith(join('shared', 'domain', 'catalogue-model.ts')));
    const offenders = importers.filter((file) => importsOf(file).some((target) => target === join(ROOT, 'shared/domain/catalogue')));
    expect(offenders.map((file) => relative(ROOT, file))).toEqual([]);
  });
});
