/**
 * `npm run catalogue -- <command>`: the catalogue file (entitlements.config.json,
 * or CATALOGUE_FILE) and Stripe.
 *
 *   check [file]                    validate a file (default: CATALOGUE_FILE or the root file)
 *   schema                          regenerate entitlements.config.schema.json from the zod schema
 *   push [--env local|test|...] [--live] [--file F]
 *                                   create the Stripe products and prices the file's plans and
 *                                   top-ups need in that environment, when missing, and print the
 *                                   price ids to add to its `stripePrices`. `local`: the running
 *                                   local stack's Stripe emulator; any other: the Stripe account of
 *                                   STRIPE_SECRET_KEY. live, prod and production (or any name with
 *                                   --live) take a live key only; every other environment a test key.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import Stripe from 'stripe';
import { catalogueFilePath, CatalogueError, readCatalogueFile } from '../shared/config/catalogue';
import { catalogueJsonSchema } from '../shared/domain/catalogue';
import { pushCatalogue, StripeModeMismatch, type PushReport } from './catalogue-push';
import { option, UsageError } from './args';

const ROOT = resolve(__dirname, '..');
export const SCHEMA_FILE = resolve(ROOT, 'entitlements.config.schema.json');

/** The committed schema's text: what `schema` writes and the drift test expects. */
export function schemaText(): string {
  return `${JSON.stringify(catalogueJsonSchema(), null, 2)}\n`;
}

/**
 * Environments a prod stack selects by default or by name: their ids must be
 * live-mode ids (a test-mode id there sells nothing). Any other name is a
 * test environment unless `--live` declares it live.
 */
export const LIVE_ENVIRONMENTS: readonly string[] = ['live', 'prod', 'production'];

export const expectsLivemode = (environment: string, liveFlag: boolean) => liveFlag || LIVE_ENVIRONMENTS.includes(environment);

/** A secret or restricted key's mode, from its prefix; undefined when it is no Stripe key. */
export function keyLivemode(key: string): boolean | undefined {
  if (/^(sk|rk)_live_/.test(key)) return true;
  if (/^(sk|rk)_test_/.test(key)) return false;
  return undefined;
}

/** A Stripe client for `environment` and the mode its ids must have: the local stack's emulator, or STRIPE_SECRET_KEY's account. */
function stripeFor(environment: string, liveFlag: boolean): { stripe: Stripe; livemode: boolean } {
  if (environment === 'local') {
    if (liveFlag) throw new UsageError('--env local is the Stripe emulator: test mode only, drop --live');
    const file = resolve(ROOT, process.env.LOCAL_STACK_DIR ?? '.local', 'stack.json');
    let env: Record<string, string>;
    try {
      env = (JSON.parse(readFileSync(file, 'utf8')) as { handlerEnv: Record<string, string> }).handlerEnv;
    } catch {
      throw new UsageError(`No local stack found (${file}). Start it first: npm run local`);
    }
    if (!env.STRIPE_API_HOST) throw new UsageError('The local stack runs against real Stripe (LOCAL_STRIPE=real): push with --env test instead');
    const stripe = new Stripe(env.STRIPE_SECRET_KEY!, { host: env.STRIPE_API_HOST, port: Number(env.STRIPE_API_PORT), protocol: env.STRIPE_API_PROTOCOL as 'http', maxNetworkRetries: 2 });
    return { stripe, livemode: false };
  }
  const wantsLive = expectsLivemode(environment, liveFlag);
  const key = process.env.STRIPE_SECRET_KEY;
  if (!key) throw new UsageError(`--env ${environment} needs STRIPE_SECRET_KEY (a ${wantsLive ? 'live' : 'test'}-mode key from the Stripe dashboard)`);
  const keyIsLive = keyLivemode(key);
  if (keyIsLive === undefined) throw new UsageError('STRIPE_SECRET_KEY is not a Stripe secret or restricted key (sk_test_, sk_live_, rk_test_, rk_live_)');
  if (wantsLive && !keyIsLive) {
    throw new UsageError(
      `--env ${environment} is a live environment: it needs a live key (sk_live_/rk_live_), and STRIPE_SECRET_KEY is a test key (its price ids do not exist in live mode)`,
    );
  }
  if (!wantsLive && keyIsLive) {
    throw new UsageError(
      `STRIPE_SECRET_KEY is a live key and --env ${environment} is a test environment: use a test key, or push to ${LIVE_ENVIRONMENTS.join('/')} (any other name only with --live)`,
    );
  }
  return { stripe: new Stripe(key, { maxNetworkRetries: 2 }), livemode: wantsLive };
}

function printReport(report: PushReport, environment: string): void {
  for (const line of report.items) {
    const notes = [
      line.inFile ? '' : '  (not in the file yet)',
      line.replaced ? `  (replaces ${line.replaced}: that price stays, its existing subscribers keep paying it)` : '',
    ].join('');
    process.stdout.write(`${line.outcome.padEnd(11)} ${line.kind.padEnd(6)} ${line.name.padEnd(20)} ${line.productId}  ${line.priceId}${notes}\n`);
  }
  const count = (outcome: string) => report.items.filter((i) => i.outcome === outcome).length;
  const reactivated = count('reactivated');
  process.stdout.write(`\n${count('created')} created, ${reactivated ? `${reactivated} reactivated, ` : ''}${count('exists')} already there.\n`);
  const changes = report.items.filter((i) => i.fileChanged);
  if (changes.length > 0) {
    process.stdout.write(
      `\nAdd the new ids to the file ("stripePrices": {"${environment}": [...]}), then redeploy. Keep the ids already there: ` +
        'subscribers stay on their old price, and a price the file no longer lists stops mapping them to their plan. ' +
        'The first id is the one Checkout sells:\n',
    );
    for (const i of changes) process.stdout.write(`  ${i.kind === 'plan' ? 'plans' : 'topUps'}[name=${i.name}].stripePrices.${environment}: [${i.fileIds.map((id) => JSON.stringify(id)).join(', ')}]\n`);
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
      const { stripe, livemode } = stripeFor(environment, args.includes('--live'));
      printReport(await pushCatalogue(stripe, file, environment, { livemode }), environment);
      return;
    }
    default:
      throw new UsageError(command ? `Unknown command ${command}` : 'No command given');
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((err: Error) => {
    if (err instanceof UsageError) process.stderr.write(`${err.message}\n\nusage: npm run catalogue -- check [file] | schema | push [--env local|test|live|...] [--live] [--file F]\n`);
    else if (err instanceof CatalogueError || err instanceof StripeModeMismatch) process.stderr.write(`${err.message}\n`);
    else process.stderr.write(`${err.stack ?? err.message}\n`);
    process.exit(1);
  });
}
