import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import Stripe from 'stripe';
import { readCatalogueFile } from '../../shared/config/catalogue';
import { freePort } from '../../infra/local/processes';
import { StripeEmulatorControl } from '../../infra/local/stripe/control';
import { startStripeEmulator, type StripeEmulator } from '../../infra/local/stripe/emulator';
import { stripeHandlerEnv } from '../../infra/local/stripe/service';
import { lookupKeyOf, productIdOf, pushCatalogue } from '../../scripts/catalogue-push';

/**
 * `npm run catalogue -- push` against the Stripe emulator, through the real
 * CLI: the first run creates what the custom catalogue sells and the default
 * one does not (a new plan, a new top-up), a second run creates nothing and
 * finds the same ids, and the ids to put in the file are printed.
 */

const ROOT = resolve(__dirname, '..', '..');
const CUSTOM = resolve(ROOT, 'test/fixtures/catalogues/custom.config.json');

let emulator: StripeEmulator;
let stripe: Stripe;
let stackDir: string;

beforeAll(async () => {
  emulator = await startStripeEmulator({ port: await freePort(), webhookUrl: `http://127.0.0.1:${await freePort()}/stripe/webhook`, delivery: { attempts: 1, retryDelayMs: 10 } });
  stripe = new Stripe(emulator.secretKey, { host: '127.0.0.1', port: emulator.port, protocol: 'http', maxNetworkRetries: 0 });
  // What `npm run local` writes: the CLI finds the emulator through it.
  stackDir = mkdtempSync(join(tmpdir(), 'catalogue-push-'));
  writeFileSync(join(stackDir, 'stack.json'), JSON.stringify({ pid: process.pid, handlerEnv: stripeHandlerEnv(emulator) }));
});

afterAll(async () => {
  await emulator.stop();
  rmSync(stackDir, { recursive: true, force: true });
});

function push(...args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [require.resolve('tsx/cli'), join(ROOT, 'scripts/catalogue.ts'), 'push', ...args], {
      cwd: ROOT,
      env: { ...process.env, LOCAL_STACK_DIR: stackDir },
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('close', (code) => done({ code, out, err }));
  });
}

/** `created|exists <kind> <name> <product> <price>` lines of the CLI's output. */
const lines = (out: string) =>
  out
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .filter((w) => w[0] === 'created' || w[0] === 'exists')
    .map(([state, kind, name, product, price]) => ({ state, kind, name, product, price }));

describe('npm run catalogue -- push --env local', () => {
  it('creates the missing product and price once, then finds them again', async () => {
    const first = await push('--env', 'local', '--file', CUSTOM);
    expect(first.err).toBe('');
    expect(first.code).toBe(0);
    const created = lines(first.out);
    // The emulator already has the default file's prices: they are found where the file names them.
    expect(created.filter((l) => l.state === 'exists').map((l) => [l.name, l.price])).toEqual([
      ['basic', 'price_basic_monthly'],
      ['pro', 'price_pro_monthly'],
      ['enterprise', 'price_enterprise_monthly'],
      ['tokens-100', 'price_token_pack_100'],
    ]);
    expect(created.filter((l) => l.state === 'created').map((l) => [l.kind, l.name, l.product])).toEqual([
      ['plan', 'team', 'ent_plan_team'],
      ['top-up', 'tokens-500', 'ent_topup_tokens-500'],
    ]);
    expect(first.out).toMatch(/2 created, 4 already there/);
    const team = created.find((l) => l.name === 'team')!;
    expect(first.out).toContain(`plans[name=team].stripePrices.local: ["${team.price}"]`);

    const price = await stripe.prices.retrieve(team.price!);
    expect(price).toMatchObject({ unit_amount: 2900, currency: 'usd', lookup_key: 'ent:plan:team:2900usd:month', product: 'ent_plan_team', active: true });
    expect(price.recurring?.interval).toBe('month');
    const pack = await stripe.prices.retrieve(created.find((l) => l.name === 'tokens-500')!.price!);
    expect(pack).toMatchObject({ unit_amount: 2000, recurring: null, metadata: { tokens: '500' } });

    const second = await push('--env', 'local', '--file', CUSTOM);
    expect(second.code).toBe(0);
    const again = lines(second.out);
    expect(again.every((l) => l.state === 'exists')).toBe(true);
    expect(again.map((l) => l.price)).toEqual(created.map((l) => l.price));
    expect(second.out).toMatch(/0 created, 6 already there/);
    // Still not in the file: printed again, so the operator can copy them.
    expect(second.out).toContain(`plans[name=team].stripePrices.local: ["${team.price}"]`);
    expect((await stripe.prices.list({ lookup_keys: ['ent:plan:team:2900usd:month'], limit: 10 })).data).toHaveLength(1);
  });

  it('lets the emulator\'s subscribe name a pushed plan', async () => {
    const pushed = await pushCatalogue(stripe, readCatalogueFile(CUSTOM).file, 'local');
    const team = pushed.items.find((i) => i.name === 'team')!;
    const { subscription } = await new StripeEmulatorControl(emulator.url).subscribe({ email: `team-${Date.now()}@example.test`, tier: 'team' });
    expect((subscription as { items: { data: Array<{ price: { id: string } }> } }).items.data[0]!.price.id).toBe(team.priceId);
  });

  it('finds nothing missing for the default file', async () => {
    const run = await push('--env', 'local');
    expect(run.code).toBe(0);
    expect(run.out).toMatch(/0 created, 4 already there/);
    expect(run.out).not.toContain('not in the file');
  });

  it('refuses a broken file naming the field, and creates nothing', async () => {
    const before = (await stripe.products.list({ limit: 100 })).data.length;
    const run = await push('--env', 'local', '--file', resolve(ROOT, 'test/fixtures/catalogues/broken.config.json'));
    expect(run.code).toBe(1);
    expect(run.err).toContain('broken.config.json: plans[2].monthlyTokens: Invalid input: expected number, received string');
    expect((await stripe.products.list({ limit: 100 })).data.length).toBe(before);
  });

  it('two pushes at once make one product and one price', async () => {
    const file = readCatalogueFile(CUSTOM).file;
    const racing = structuredClone(file);
    racing.topUps.push({ name: 'tokens-700', tokens: 700, price: { amount: 2600, currency: 'usd' } });
    const [a, b] = await Promise.all([pushCatalogue(stripe, racing, 'local'), pushCatalogue(stripe, racing, 'local')]);
    const idOf = (r: typeof a) => r.items.find((i) => i.name === 'tokens-700')!.priceId;
    expect(idOf(a)).toBe(idOf(b));
    const key = lookupKeyOf({ kind: 'top-up', name: 'tokens-700', amount: 2600, currency: 'usd', interval: null });
    expect((await stripe.prices.list({ lookup_keys: [key], limit: 10 })).data).toHaveLength(1);
    expect((await stripe.products.list({ ids: [productIdOf({ kind: 'top-up', name: 'tokens-700' })] })).data).toHaveLength(1);
  });
});

describe('the emulator checks what push sends as Stripe does', () => {
  it('refuses a second product with a taken id and a second price with a taken lookup key', async () => {
    await stripe.products.create({ id: 'ent_plan_dup', name: 'Dup' });
    await expect(stripe.products.create({ id: 'ent_plan_dup', name: 'Dup' })).rejects.toMatchObject({ code: 'resource_already_exists' });
    await stripe.prices.create({ product: 'ent_plan_dup', currency: 'usd', unit_amount: 100, lookup_key: 'dup-key' });
    await expect(stripe.prices.create({ product: 'ent_plan_dup', currency: 'usd', unit_amount: 200, lookup_key: 'dup-key' })).rejects.toMatchObject({ param: 'lookup_key' });
    const moved = await stripe.prices.create({ product: 'ent_plan_dup', currency: 'usd', unit_amount: 300, lookup_key: 'dup-key', transfer_lookup_key: true });
    expect((await stripe.prices.list({ lookup_keys: ['dup-key'] })).data.map((p) => p.id)).toEqual([moved.id]);
  });

  it('refuses an unknown parameter and a price on a product that does not exist', async () => {
    await expect(stripe.prices.create({ product: 'prod_nope', currency: 'usd', unit_amount: 100 })).rejects.toMatchObject({ code: 'resource_missing' });
    await expect(stripe.products.create({ name: 'x', colour: 'red' } as never)).rejects.toMatchObject({ code: 'parameter_unknown' });
  });
});

