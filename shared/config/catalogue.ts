import { readFileSync } from 'node:fs';
import { basename, isAbsolute, resolve } from 'node:path';
import * as z from 'zod';
import { catalogueFileSchema, resolveCatalogue, type Catalogue, type CatalogueFile } from '../domain/catalogue';

/**
 * The ONE loader of the catalogue file. `cdk synth`, `npm run local`, the
 * scripts and the functions' cold start all come through here, so a bad file
 * is refused the same way everywhere: one message naming the file and the
 * field path (`entitlements.config.json: plans[2].monthlyTokens: ...`).
 *
 * Where the text comes from: a function bundle carries the file validated at
 * synth (esbuild `define`, see infra/constructs/house-function.ts); anywhere
 * else it is read from CATALOGUE_FILE or the repository's root file.
 */

/** The root file's name; CATALOGUE_FILE names another. */
export const CATALOGUE_FILE_NAME = 'entitlements.config.json';
/** The esbuild `define` a function bundle carries the file in (JSON text). */
export const BUNDLED_CATALOGUE_DEFINE = '__ENTITLEMENTS_CATALOGUE__';

declare const __ENTITLEMENTS_CATALOGUE__: string | undefined;

const REPO_ROOT = resolve(__dirname, '..', '..');

export class CatalogueError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CatalogueError';
  }
}

/** `plans[2].monthlyTokens` from zod's path. */
function fieldPath(path: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const part of path) out += typeof part === 'number' ? `[${part}]` : /^[A-Za-z_$][\w$]*$/.test(String(part)) ? `${out ? '.' : ''}${String(part)}` : `[${JSON.stringify(String(part))}]`;
  return out || '(root)';
}

/** Parses and validates the file's text; every problem in one CatalogueError naming `source` and the field. */
export function parseCatalogueFile(text: string, source: string): CatalogueFile {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new CatalogueError(`${source}: not valid JSON: ${(err as Error).message}`);
  }
  const result = catalogueFileSchema.safeParse(json);
  if (result.success) return result.data;
  throw new CatalogueError(result.error.issues.map((issue) => `${source}: ${fieldPath(issue.path)}: ${issue.message}`).join('\n'));
}

/** The path of the file to read: CATALOGUE_FILE (relative to the working directory) or the root file. */
export function catalogueFilePath(env: Record<string, string | undefined> = process.env): string {
  const named = env.CATALOGUE_FILE?.trim();
  if (!named) return resolve(REPO_ROOT, CATALOGUE_FILE_NAME);
  return isAbsolute(named) ? named : resolve(process.cwd(), named);
}

/** Reads and validates a catalogue file; the text comes back too (a bundle carries it verbatim). */
export function readCatalogueFile(path: string): { file: CatalogueFile; text: string; source: string } {
  const source = basename(path);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new CatalogueError(`${path}: cannot read the catalogue file: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  return { file: parseCatalogueFile(text, source), text, source };
}

/** The catalogue file of this process: the bundled one in a function, else CATALOGUE_FILE or the root file. */
export function loadCatalogueFile(env: Record<string, string | undefined> = process.env): CatalogueFile {
  if (typeof __ENTITLEMENTS_CATALOGUE__ === 'string') return parseCatalogueFile(__ENTITLEMENTS_CATALOGUE__, `${CATALOGUE_FILE_NAME} (bundled)`);
  return readCatalogueFile(catalogueFilePath(env)).file;
}

/** Which `stripePrices` environment applies (local, test, live...): set by CDK context and by the local stack. */
export const catalogueSection = z.object({
  CATALOGUE_ENVIRONMENT: z.string().regex(/^[a-z][a-z0-9-]{0,19}$/, 'must be a lower-case environment name of the catalogue (local, test, live)'),
});

/** The catalogue of this process for CATALOGUE_ENVIRONMENT. */
export function loadCatalogue(environment: string, env: Record<string, string | undefined> = process.env): Catalogue {
  return resolveCatalogue(loadCatalogueFile(env), environment);
}
