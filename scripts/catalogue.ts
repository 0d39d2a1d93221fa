/**
 * `npm run catalogue -- <command>`: the catalogue file (entitlements.config.json,
 * or CATALOGUE_FILE) and Stripe.
 *
 *   check [file]                    validate a file (default: CATALOGUE_FILE or the root file)
 *   schema                          regenerate entitlements.config.schema.json from the zod schema
 *   push [--env local|test|...] [--file F]
 *                                   create the Stripe products and prices the file's plans and
 *                                   top-ups need in that environment, when missing, and print the
 *                                   price ids to put in its `stripePrices`. `local`: the running
 *                                   local stack's Stripe emulator; any other: the Stripe account of
 *                                   STRIPE_SECRET_KEY (test mode; a live key only with --env live).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import Stripe from 'stripe';
import { catalogueFilePath, CatalogueError, readCatalogueFile } from '../shared/config/catalogue';
import { catalogueJsonSchema } from '../shared/domain/catalogue';
import { pushCatalogue, type PushReport } from './catalogue-push';

const ROOT = resolve(__dirname, '..');
export const SCHEMA_FILE = resolve(ROOT, 'entitlements.config.schema.json');

class UsageError extends Error {}

function option(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  if (i < 0) return undefined;
  const value = args[i + 1];
  if (value === undefined || value.startsWith('--')) throw new UsageError(`${name} needs a value`);
  return value;
}

/** The committed schema's text: what `schema` writes and the drift test expects. */
export function schemaText(): string {
  return `${JSON.stringify(catalogueJsonSchema(), null, 2)}\n`;
}

/** A Stripe client for `environment`: the local stack's emulator, or STRIPE_SECRET_KEY's account. */
function stripeFor(environment: string): Stripe {
  if (environment === 'local') {
    const file = resolve(ROOT, process.env.LOCAL_STACK_DIR ?? '.local', 'stack.json');
    let env: Record<string, string>;
    try {
      env = (JSON.parse(readFileSync(file, 'utf8')) as { handlerEnv: Record<string, string> }).handlerEnv;
    } catch {
      throw new UsageError(`No local stack found (${file}). Start it first: npm run local`);
    }
    if (!env.STRIPE_API_HOST) throw new UsageError('The local stack runs against real Stripe (LOCAL_STRIPE=real): push with --env test instead');
    return new Stripe(env.STRIPE_SECRET_KEY!, { host: env.STRIPE_API_HOST, port: Number(env.STRIPE_API_PORT), protocol: env.STRIPE_API_PROTOCOL as 'http', maxNetworkRetries: 2 });
  }
  const key = process.env.STRIPE_SECRET_KEY;
  if (!key) throw new UsageError(`--env ${environment} needs STRIPE_SECRET_KEY (a test-mode key from the Stripe dashboard)`);
  const live = /^(sk|rk)_live_/.test(key);
  if (live && environment !== 'live') throw new UsageError(`STRIPE_SECRET_KEY is a live key: push to live only with --env live`);
  if (!live && environment === 'live') throw new UsageError('--env live needs a live key');
  return new Stripe(key, { maxNetworkRetries: 2 });
}

function printReport(report: PushReport, environment: string): void {
  for (const line of report.items) {
    process.stdout.write(`${line.created ? 'created ' : 'exists  '} ${line.kind.padEnd(6)} ${line.name.padEnd(20)} ${line.productId}  ${line.priceId}${line.inFile ? '' : '  (not in the file yet)'}\n`);
  }
  const created = report.items.filter((i) => i.created).length;
  process.stdout.write(`\n${created} created, ${report.items.length - created} already there.\n`);
  if (report.items.some((i) => !i.inFile)) {
    process.stdout.write(`\nPut these in the file ("stripePrices": {"${environment}": [...]}), then redeploy:\n`);
    for (const i of report.items.filter((x) => !x.inFile)) process.stdout.write(`  ${i.kind === 'plan' ? 'plans' : 'topUps'}[name=${i.name}].stripePrices.${environment}: ["${i.priceId}"]\n`);
  }
}

async function main(argv: string[]): Promise<void> {
  const [command, ...args] = argv;
  switch (command) {
    case 'check': {
      const path = args[0] ? resolve(process.cwd(), args[0]) : catalogueFilePath();
      const { file, source } = readCatalogueFile(path);
      process.stdout.write(`${source}: valid (${file.plans.length} plans: ${file.plans.map((p) => p.name).join(', ')}; ${file.topUps.length} top-ups)\n`);
      return;
    }
    case 'schema':
      writeFileSync(SCHEMA_FILE, schemaText());
      process.stdout.write(`wrote ${SCHEMA_FILE}\n`);
      return;
    case 'push': {
      const environment = option(args, '--env') ?? 'local';
      if (!/^[a-z][a-z0-9-]{0,19}$/.test(environment)) throw new UsageError(`--env: not an environment name: ${environment}`);
      const path = option(args, '--file') ? resolve(process.cwd(), option(args, '--file')!) : catalogueFilePath();
      const { file } = readCatalogueFile(path);
      printReport(await pushCatalogue(stripeFor(environment), file, environment), environment);
      return;
    }
    default:
      throw new UsageError(command ? `Unknown command ${command}` : 'No command given');
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((err: Error) => {
    if (err instanceof UsageError) process.stderr.write(`${err.message}\n\nusage: npm run catalogue -- check [file] | schema | push [--env local|test|live] [--file F]\n`);
    else if (err instanceof CatalogueError) process.stderr.write(`${err.message}\n`);
    else process.stderr.write(`${err.stack ?? err.message}\n`);
    process.exit(1);
  });
}
