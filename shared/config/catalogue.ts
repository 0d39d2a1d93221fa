import { readFileSync } from 'node:fs';
import { basename, isAbsolute, resolve } from 'node:path';
import * as z from 'zod';
import type { CatalogueFile } from '../domain/catalogue';
import { resolveCatalogue, type Catalogue } from '../domain/catalogue-model';

/**
 * The ONE loader of the catalogue file. `cdk synth`, `npm run local`, the
 * scripts and the functions' cold start all come through here, so a bad file
 * is refused the same way everywhere: one message naming the file and the
 * field path (`entitlements.config.json: plans[2].monthlyTokens: ...`).
 *
 * Where the file comes from: a function bundle carries it validated at synth
 * (esbuild `define` of bundledCatalogue(), see
 * infra/constructs/house-function.ts); anywhere else it is read from
 * CATALOGUE_FILE or the repository's root file and validated here.
 */

/** The root file's name; CATALOGUE_FILE names another. */
export const CATALOGUE_FILE_NAME = 'entitlements.config.json';
/**
 * The esbuild `define` a function bundle carries the file in: the JSON text
 * of the file as the schema parsed it at synth (defaults filled in), see
 * bundledCatalogue.
 */
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
  // The schema is required here, not at module load: a function's cold start never validates (its
  // bundle carries the file validated at synth), and building the schema cost every cold start
  // ~10 ms (bench: module: catalogue). A cut, not a deferral: only synth, the local stack and scripts come here.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { catalogueFileSchema } = require('../domain/catalogue') as typeof import('../domain/catalogue');
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
  return loadCatalogueFileWithSource(env).file;
}

/**
 * What a function bundle carries (the value of BUNDLED_CATALOGUE_DEFINE): the
 * file's text validated and parsed here, at synth, and written back as JSON.
 * The parsed file is plain JSON (objects, arrays, strings, numbers, booleans,
 * null), so the function reads it back with JSON.parse and no schema.
 */
export function bundledCatalogue(text: string, source = CATALOGUE_FILE_NAME): string {
  return JSON.stringify(parseCatalogueFile(text, source));
}

function loadCatalogueFileWithSource(env: Record<string, string | undefined>): { file: CatalogueFile; source: string } {
  if (typeof __ENTITLEMENTS_CATALOGUE__ === 'string') return { file: JSON.parse(__ENTITLEMENTS_CATALOGUE__) as CatalogueFile, source: `${CATALOGUE_FILE_NAME} (bundled)` };
  const { file, source } = readCatalogueFile(catalogueFilePath(env));
  return { file, source };
}

/**
 * Settings the catalogue file replaced: CDK context keys and the handler
 * variables they became. Nothing reads them any more, so a leftover one
 * would silently stop applying on the next deploy (other prices, allowances
 * or grace): every start path refuses it, naming the field that holds its
 * value now (`<environment>` is the Stripe environment in force).
 */
export const RETIRED_SETTINGS: ReadonlyArray<{ context: string; variable: string; field: string }> = [
  { context: 'tierBasicMonthlyTokens', variable: 'TIER_BASIC_MONTHLY_TOKENS', field: 'plans[basic].monthlyTokens' },
  { context: 'tierProMonthlyTokens', variable: 'TIER_PRO_MONTHLY_TOKENS', field: 'plans[pro].monthlyTokens' },
  { context: 'tierEnterpriseMonthlyTokens', variable: 'TIER_ENTERPRISE_MONTHLY_TOKENS', field: 'plans[enterprise].monthlyTokens' },
  { context: 'stripePriceBasic', variable: 'STRIPE_PRICE_BASIC', field: 'plans[basic].stripePrices.<environment>' },
  { context: 'stripePricePro', variable: 'STRIPE_PRICE_PRO', field: 'plans[pro].stripePrices.<environment>' },
  { context: 'stripePriceEnterprise', variable: 'STRIPE_PRICE_ENTERPRISE', field: 'plans[enterprise].stripePrices.<environment>' },
  { context: 'stripePriceTokenPack', variable: 'STRIPE_PRICE_TOKEN_PACK', field: 'topUps[].stripePrices.<environment>' },
  { context: 'tokenPackSize', variable: 'TOKEN_PACK_SIZE', field: 'topUps[].tokens' },
  { context: 'pastDueGrace', variable: 'PAST_DUE_GRACE', field: 'pastDueGrace.enabled' },
  { context: 'pastDueGraceDays', variable: 'PAST_DUE_GRACE_DAYS', field: 'pastDueGrace.days' },
  { context: 'adminGrantTier', variable: 'ADMIN_GRANT_TIER', field: 'sources.admin.grantPlan' },
];

/** Families of the retired variables: one not in the list above (a plan of its own) is as dead. */
const RETIRED_VARIABLE_PREFIXES = /^(TIER_|STRIPE_PRICE_|TOKEN_PACK_|PAST_DUE_GRACE|ADMIN_GRANT_)/;

const isSet = (value: unknown): boolean => value !== undefined && value !== null && value !== '';

function retiredMessage(name: string, field: string, environment: string, source: string): string {
  return `${name} is no longer read: set ${field.replace('<environment>', environment)} in ${source} instead, and remove ${name}`;
}

/** One refusal per retired CDK context key that is set (`read`: the app's tryGetContext). */
export function retiredContextProblems(read: (key: string) => unknown, environment: string, source = CATALOGUE_FILE_NAME): string[] {
  return RETIRED_SETTINGS.filter((s) => isSet(read(s.context))).map((s) => `context key ${retiredMessage(s.context, s.field, environment, source)}`);
}

/** One refusal per retired variable that is set, the listed ones naming their field. */
export function retiredVariableProblems(env: Record<string, string | undefined>, environment: string, source = CATALOGUE_FILE_NAME): string[] {
  const problems: string[] = [];
  for (const name of Object.keys(env).sort()) {
    if (!RETIRED_VARIABLE_PREFIXES.test(name) || !isSet(env[name])) continue;
    const setting = RETIRED_SETTINGS.find((s) => s.variable === name);
    problems.push(`variable ${setting ? retiredMessage(name, setting.field, environment, source) : `${name} is no longer read: plans, prices, top-ups and grace are in ${source}; remove ${name}`}`);
  }
  return problems;
}

/**
 * Can the file serve `environment` (the Stripe account CATALOGUE_ENVIRONMENT /
 * context catalogueEnvironment names)? It must name it, and everything with a
 * price must have a price id there: otherwise checkout could not sell a plan
 * and a subscription's price would read as unknown. One refusal per gap,
 * naming the environment and the plan or top-up.
 */
export function environmentProblems(file: CatalogueFile, environment: string, source: string): string[] {
  const sellable = [
    ...file.plans.map((plan, i) => ({ path: `plans[${i}]`, name: plan.name, priced: plan.price !== undefined, prices: plan.stripePrices ?? {} })),
    ...file.topUps.map((pack, i) => ({ path: `topUps[${i}]`, name: pack.name, priced: true, prices: pack.stripePrices ?? {} })),
  ];
  const environments = [...new Set(sellable.flatMap((item) => Object.keys(item.prices)))].sort();
  const problems: string[] = [];
  if (environments.length > 0 && !environments.includes(environment)) {
    problems.push(`${source}: the Stripe environment "${environment}" (CATALOGUE_ENVIRONMENT / context catalogueEnvironment) is not in the file (it has: ${environments.join(', ')})`);
  }
  for (const item of sellable) {
    if (item.priced && (item.prices[environment] ?? []).length === 0) {
      problems.push(
        `${source}: ${item.path} (${item.name}) has a price but no Stripe price id in "${environment}": add it to ${item.path}.stripePrices.${environment} (\`npm run catalogue -- push --env ${environment}\` creates the prices and prints their ids)`,
      );
    }
  }
  return problems;
}

/**
 * The catalogue a process may serve for `environment`: retired variables in
 * `env` and environment gaps of the file refused together, in one
 * CatalogueError (cold start and `npm run local` both come through here).
 */
export function servableCatalogue(file: CatalogueFile, source: string, environment: string, env: Record<string, string | undefined> = process.env): Catalogue {
  const problems = [...retiredVariableProblems(env, environment, source), ...environmentProblems(file, environment, source)];
  if (problems.length > 0) throw new CatalogueError(problems.join('\n'));
  return resolveCatalogue(file, environment);
}

// Module-level schemas are built by @__PURE__ calls so bundles drop the unused ones (note in shared/config/index.ts).
/** Which `stripePrices` environment applies (local, test, live...): set by CDK context and by the local stack. */
export const catalogueSection = /* @__PURE__ */ (() =>
  z.object({
    CATALOGUE_ENVIRONMENT: z.string().regex(/^[a-z][a-z0-9-]{0,19}$/, 'must be a lower-case environment name of the catalogue (local, test, live)'),
  }))();

/** The catalogue of this process for CATALOGUE_ENVIRONMENT (refused when the file cannot serve it, see servableCatalogue). */
export function loadCatalogue(environment: string, env: Record<string, string | undefined> = process.env): Catalogue {
  const { file, source } = loadCatalogueFileWithSource(env);
  return servableCatalogue(file, source, environment, env);
}
