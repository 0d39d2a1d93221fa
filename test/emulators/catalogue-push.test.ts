import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import Stripe from 'stripe';
import ts from 'typescript';
import { readCatalogueFile } from '../../shared/config/catalogue';
import type { CatalogueFile } from '../../shared/domain/catalogue';
import { freePort } from '../../infra/local/processes';
import { StripeEmulatorControl } from '../../infra/local/stripe/control';
import { startStripeEmulator, type StripeEmulator } from '../../infra/local/stripe/emulator';
import { catalogueSeed } from '../../infra/local/stripe/catalog';
import { stripeHandlerEnv } from '../../infra/local/stripe/service';
import { KNOWN_PARAMS } from '../../infra/local/stripe/params';
import { expectsLivemode, keyLivemode } from '../../scripts/catalogue';
import { lookupKeyOf, productIdOf, pushCatalogue, StripeModeMismatch, type PushReport } from '../../scripts/catalogue-push';

/**
 * `npm run catalogue -- push` against the Stripe emulator, through the real
 * CLI: the first run creates what the custom catalogue sells and the default
 * one does not (a new plan, a new top-up), a second run creates nothing and
 * finds the same ids, and the ids to add to the file are printed. Then what
 * real Stripe does to a later push: an archived price keeps its lookup key
 * (reactivated, never duplicated), a new amount is a new price that takes the
 * key over while the old one stays for its subscribers, and the key's mode
 * must match the environment's.
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
  return pushWith({}, ...args);
}

function pushWith(env: Record<string, string>, ...args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [require.resolve('tsx/cli'), join(ROOT, 'scripts/catalogue.ts'), 'push', ...args], {
      cwd: ROOT,
      env: { ...process.env, LOCAL_STACK_DIR: stackDir, ...env },
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('close', (code) => done({ code, out, err }));
  });
}

/** `created|reactivated|exists <kind> <name> <product> <price>` lines of the CLI's output. */
const lines = (out: string) =>
  out
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .filter((w) => w[0] === 'created' || w[0] === 'exists' || w[0] === 'reactivated')
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
    expect(price).toMatchObject({ unit_amount: 2900, currency: 'usd', lookup_key: 'ent:plan:team', product: 'ent_plan_team', active: true });
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
    expect((await stripe.prices.list({ lookup_keys: ['ent:plan:team'], limit: 10 })).data).toHaveLength(1);
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
    const key = lookupKeyOf({ kind: 'top-up', name: 'tokens-700' });
    expect((await stripe.prices.list({ lookup_keys: [key], limit: 10 })).data).toHaveLength(1);
    expect((await stripe.products.list({ ids: [productIdOf({ kind: 'top-up', name: 'tokens-700' })] })).data).toHaveLength(1);
  });
});

describe('a later push, after the operator changed Stripe or the file', () => {
  /** The custom file plus one top-up of its own (a fresh lookup key per test), written where the CLI reads it. */
  function fileWithPack(name: string, amount: number, localIds: string[] = []): { file: CatalogueFile; path: string } {
    const file = structuredClone(readCatalogueFile(CUSTOM).file);
    file.topUps.push({ name, tokens: 900, price: { amount, currency: 'usd' }, ...(localIds.length ? { stripePrices: { local: localIds } } : {}) });
    const path = join(stackDir, `${name}-${amount}.config.json`);
    writeFileSync(path, JSON.stringify(file));
    return { file, path };
  }
  const packOf = (report: PushReport, name: string) => report.items.find((i) => i.name === name)!;
  const holders = async (name: string) => (await stripe.prices.list({ lookup_keys: [lookupKeyOf({ kind: 'top-up', name })], limit: 10 })).data;
  const pricesOf = async (name: string) => (await stripe.prices.list({ product: productIdOf({ kind: 'top-up', name }), limit: 100 })).data;

  it('reactivates an archived price (which keeps its lookup key) instead of replaying its create or making another', async () => {
    const { file, path } = fileWithPack('tokens-archived', 3100);
    const first = packOf(await pushCatalogue(stripe, file, 'local'), 'tokens-archived');
    expect(first.outcome).toBe('created');
    await stripe.prices.update(first.priceId, { active: false });
    // Stripe: the archived price still holds the key, and a list by key without `active` finds it.
    expect((await holders('tokens-archived')).map((p) => [p.id, p.active])).toEqual([[first.priceId, false]]);

    const run = await push('--env', 'local', '--file', path);
    expect(run.err).toBe('');
    expect(run.code).toBe(0);
    expect(lines(run.out).find((l) => l.name === 'tokens-archived')).toMatchObject({ state: 'reactivated', price: first.priceId });
    expect(run.out).toMatch(/0 created, 1 reactivated, \d+ already there/);
    expect((await stripe.prices.retrieve(first.priceId)).active).toBe(true);
    expect(await pricesOf('tokens-archived')).toHaveLength(1);

    // A retry finds it active: nothing changes.
    expect(packOf(await pushCatalogue(stripe, file, 'local'), 'tokens-archived')).toMatchObject({ outcome: 'exists', priceId: first.priceId });
  });

  it('reactivates an archived price once the create\'s idempotency key has expired too (no lookup key conflict)', async () => {
    const { file } = fileWithPack('tokens-archived-old', 3200);
    const first = packOf(await pushCatalogue(stripe, file, 'local'), 'tokens-archived-old');
    await stripe.prices.update(first.priceId, { active: false });
    await new StripeEmulatorControl(emulator.url).clock({ advanceSeconds: 25 * 3600 });

    expect(packOf(await pushCatalogue(stripe, file, 'local'), 'tokens-archived-old')).toMatchObject({ outcome: 'reactivated', priceId: first.priceId });
    expect(await pricesOf('tokens-archived-old')).toHaveLength(1);
  });

  it('a new amount is a new price that takes the lookup key over; the old one stays, and the file keeps both (the new one first)', async () => {
    const { file: before } = fileWithPack('tokens-repriced', 3300);
    const old = packOf(await pushCatalogue(stripe, before, 'local'), 'tokens-repriced');
    const { file: after, path } = fileWithPack('tokens-repriced', 3900, [old.priceId]);

    const run = await push('--env', 'local', '--file', path);
    expect(run.err).toBe('');
    expect(run.code).toBe(0);
    const line = lines(run.out).find((l) => l.name === 'tokens-repriced')!;
    expect(line.state).toBe('created');
    expect(line.price).not.toBe(old.priceId);
    expect(run.out).toContain(`replaces ${old.priceId}: that price stays, its existing subscribers keep paying it`);
    expect(run.out).toContain('Keep the ids already there');
    expect(run.out).toContain(`topUps[name=tokens-repriced].stripePrices.local: ["${line.price}", "${old.priceId}"]`);

    expect(await holders('tokens-repriced')).toEqual([expect.objectContaining({ id: line.price, unit_amount: 3900, active: true })]);
    expect(await stripe.prices.retrieve(old.priceId)).toMatchObject({ active: true, lookup_key: null, unit_amount: 3300 });

    // Retried, one after the other and two at once: the same price, nothing more created.
    const again = packOf(await pushCatalogue(stripe, after, 'local'), 'tokens-repriced');
    expect(again).toMatchObject({ outcome: 'exists', priceId: line.price, fileIds: [line.price, old.priceId], fileChanged: true });
    const [a, b] = await Promise.all([pushCatalogue(stripe, after, 'local'), pushCatalogue(stripe, after, 'local')]);
    expect([packOf(a, 'tokens-repriced').priceId, packOf(b, 'tokens-repriced').priceId]).toEqual([line.price, line.price]);
    expect(await pricesOf('tokens-repriced')).toHaveLength(2);
  });

  it('an amount changed back reactivates the file\'s archived price of that amount, giving it the key, instead of a duplicate', async () => {
    const { file: first } = fileWithPack('tokens-back', 3500);
    const p1 = packOf(await pushCatalogue(stripe, first, 'local'), 'tokens-back').priceId;
    const { file: raised } = fileWithPack('tokens-back', 4500, [p1]);
    const p2 = packOf(await pushCatalogue(stripe, raised, 'local'), 'tokens-back').priceId;
    await stripe.prices.update(p1, { active: false });

    const { file: back } = fileWithPack('tokens-back', 3500, [p2, p1]);
    expect(packOf(await pushCatalogue(stripe, back, 'local'), 'tokens-back')).toMatchObject({ outcome: 'reactivated', priceId: p1, replaced: p2, fileIds: [p1, p2] });
    expect(await holders('tokens-back')).toEqual([expect.objectContaining({ id: p1, active: true, unit_amount: 3500 })]);
    expect(await stripe.prices.retrieve(p2)).toMatchObject({ active: true, lookup_key: null });
    expect(await pricesOf('tokens-back')).toHaveLength(2);
  });

  it('two pushes of a new amount at once make one new price', async () => {
    const { file: before } = fileWithPack('tokens-raced-reprice', 3400);
    const old = packOf(await pushCatalogue(stripe, before, 'local'), 'tokens-raced-reprice');
    const { file: after } = fileWithPack('tokens-raced-reprice', 4400, [old.priceId]);
    const [a, b] = await Promise.all([pushCatalogue(stripe, after, 'local'), pushCatalogue(stripe, after, 'local')]);
    expect(packOf(a, 'tokens-raced-reprice').priceId).toBe(packOf(b, 'tokens-raced-reprice').priceId);
    expect(await pricesOf('tokens-raced-reprice')).toHaveLength(2);
    expect(await holders('tokens-raced-reprice')).toEqual([expect.objectContaining({ unit_amount: 4400 })]);
  });
});

describe('the key\'s mode must be the environment\'s', () => {
  const TEST_KEY = 'sk_test_' + 'x'.repeat(24);
  const LIVE_KEY = 'sk_live_' + 'x'.repeat(24);

  it.each([
    ['a test key for prod', TEST_KEY, ['--env', 'prod'], /--env prod is a live environment: it needs a live key/],
    ['a test key for production', TEST_KEY, ['--env', 'production'], /--env production is a live environment/],
    ['a test key for live', 'rk_test_' + 'x'.repeat(24), ['--env', 'live'], /--env live is a live environment/],
    ['a test key for an environment declared live', TEST_KEY, ['--env', 'eu-prod', '--live'], /--env eu-prod is a live environment/],
    ['a live key for a test environment', LIVE_KEY, ['--env', 'test'], /STRIPE_SECRET_KEY is a live key and --env test is a test environment/],
    ['a live key for staging', 'rk_live_' + 'x'.repeat(24), ['--env', 'staging'], /is a live key and --env staging is a test environment/],
    ['something that is no Stripe key', 'pk_test_abc', ['--env', 'test'], /not a Stripe secret or restricted key/],
    ['--live for the emulator', TEST_KEY, ['--env', 'local', '--live'], /--env local is the Stripe emulator: test mode only/],
  ])('refuses %s before calling Stripe, printing no ids', async (_, key, args, message) => {
    const run = await pushWith({ STRIPE_SECRET_KEY: key }, ...args);
    expect(run.code).toBe(1);
    expect(run.err).toMatch(message);
    expect(run.out).toBe('');
  });

  it('stops when Stripe answers in the other mode, creating and printing nothing', async () => {
    const before = (await stripe.products.list({ limit: 100 })).data.length;
    await expect(pushCatalogue(stripe, readCatalogueFile(CUSTOM).file, 'live', { livemode: true })).rejects.toBeInstanceOf(StripeModeMismatch);
    expect((await stripe.products.list({ limit: 100 })).data.length).toBe(before);
  });

  it('knows which environments are live', () => {
    expect(['live', 'prod', 'production', 'test', 'staging', 'local'].map((e) => expectsLivemode(e, false))).toEqual([true, true, true, false, false, false]);
    expect(expectsLivemode('eu-prod', true)).toBe(true);
    expect([keyLivemode('sk_live_a'), keyLivemode('rk_live_a'), keyLivemode('sk_test_a'), keyLivemode('rk_test_a'), keyLivemode('whsec_a')]).toEqual([true, true, false, false, undefined]);
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

  it('archives and reactivates a price (POST /v1/prices/:id): the archived one keeps its lookup key, which stays taken', async () => {
    await stripe.products.create({ id: 'ent_plan_archive', name: 'Archive' });
    const price = await stripe.prices.create({ product: 'ent_plan_archive', currency: 'usd', unit_amount: 100, lookup_key: 'archive-key' });
    expect(await stripe.prices.update(price.id, { active: false })).toMatchObject({ active: false, lookup_key: 'archive-key' });

    expect((await stripe.prices.list({ lookup_keys: ['archive-key'] })).data.map((p) => p.id)).toEqual([price.id]);
    expect((await stripe.prices.list({ lookup_keys: ['archive-key'], active: true })).data).toEqual([]);
    expect((await stripe.prices.list({ lookup_keys: ['archive-key'], active: false })).data.map((p) => p.id)).toEqual([price.id]);
    await expect(stripe.prices.create({ product: 'ent_plan_archive', currency: 'usd', unit_amount: 200, lookup_key: 'archive-key' })).rejects.toMatchObject({
      param: 'lookup_key',
      message: `A price (\`${price.id}\`) already uses that lookup key.`,
    });

    expect(await stripe.prices.update(price.id, { active: true })).toMatchObject({ active: true, lookup_key: 'archive-key', unit_amount: 100 });
  });

  it('moves a lookup key on update only with transfer_lookup_key', async () => {
    await stripe.products.create({ id: 'ent_plan_move', name: 'Move' });
    const holder = await stripe.prices.create({ product: 'ent_plan_move', currency: 'usd', unit_amount: 100, lookup_key: 'move-key' });
    const other = await stripe.prices.create({ product: 'ent_plan_move', currency: 'usd', unit_amount: 200 });
    await expect(stripe.prices.update(other.id, { lookup_key: 'move-key' })).rejects.toMatchObject({ param: 'lookup_key' });
    expect(await stripe.prices.update(other.id, { lookup_key: 'move-key', transfer_lookup_key: true })).toMatchObject({ lookup_key: 'move-key' });
    expect((await stripe.prices.retrieve(holder.id)).lookup_key).toBeNull();
    // Setting a price's own key again is no conflict.
    expect(await stripe.prices.update(other.id, { lookup_key: 'move-key', nickname: 'Moved' })).toMatchObject({ lookup_key: 'move-key', nickname: 'Moved' });
  });

  it('refuses on update what Stripe does not let change, and an unknown price', async () => {
    await expect(stripe.prices.update('price_basic_monthly', { unit_amount: 5 } as never)).rejects.toMatchObject({ code: 'parameter_unknown', param: 'unit_amount' });
    await expect(stripe.prices.update('price_nope', { active: true })).rejects.toMatchObject({ code: 'resource_missing', statusCode: 404 });
  });

  it('accepts exactly the parameters stripe-node types for the price calls push makes', () => {
    const types = ts.createSourceFile('Prices.d.ts', readFileSync(resolve(ROOT, 'node_modules/stripe/cjs/resources/Prices.d.ts'), 'utf8'), ts.ScriptTarget.Latest);
    const members = (name: string) => {
      const decl = types.statements.find((s): s is ts.InterfaceDeclaration => ts.isInterfaceDeclaration(s) && s.name.text === name)!;
      return decl.members.map((m) => (m.name as ts.Identifier).text).sort();
    };
    const sorted = (list: readonly string[]) => [...list].sort();
    expect(sorted(KNOWN_PARAMS.priceUpdate)).toEqual(members('PriceUpdateParams'));
    expect(sorted(KNOWN_PARAMS.priceCreate)).toEqual(members('PriceCreateParams'));
    expect(sorted(KNOWN_PARAMS.priceList)).toEqual([...members('PriceListParams'), 'ending_before', 'limit', 'starting_after'].sort());
  });

  it('refuses an unknown parameter and a price on a product that does not exist', async () => {
    await expect(stripe.prices.create({ product: 'prod_nope', currency: 'usd', unit_amount: 100 })).rejects.toMatchObject({ code: 'resource_missing' });
    await expect(stripe.products.create({ name: 'x', colour: 'red' } as never)).rejects.toMatchObject({ code: 'parameter_unknown' });
  });
});


describe('the local stack restarted with the pushed ids in the file', () => {
  it('starts its emulator with the file\'s local prices, so push then finds them and Checkout can sell them', async () => {
    const { file } = readCatalogueFile(CUSTOM);
    const first = await pushCatalogue(stripe, file, 'local');
    const withIds: CatalogueFile = structuredClone(file);
    for (const item of first.items) {
      const target = item.kind === 'plan' ? withIds.plans.find((p) => p.name === item.name) : withIds.topUps.find((t) => t.name === item.name);
      target!.stripePrices = { ...target!.stripePrices, local: item.fileIds };
    }

    // A new emulator (a restart: no state kept), seeded from the file with the ids.
    const restarted = await startStripeEmulator({
      port: await freePort(),
      webhookUrl: `http://127.0.0.1:${await freePort()}/stripe/webhook`,
      delivery: { attempts: 1, retryDelayMs: 10 },
      seed: catalogueSeed(withIds),
    });
    try {
      const client = new Stripe(restarted.secretKey, { host: '127.0.0.1', port: restarted.port, protocol: 'http', maxNetworkRetries: 0 });
      const team = first.items.find((i) => i.kind === 'plan' && i.name === 'team')!;
      const price = await client.prices.retrieve(team.priceId);
      expect(price).toMatchObject({ active: true, unit_amount: 2900, currency: 'usd', recurring: { interval: 'month' }, lookup_key: lookupKeyOf({ kind: 'plan', name: 'team' }), product: productIdOf({ kind: 'plan', name: 'team' }) });
      const again = await pushCatalogue(client, withIds, 'local');
      expect(again.items.filter((i) => i.outcome !== 'exists')).toEqual([]);
      expect(again.items.map((i) => i.priceId)).toEqual(first.items.map((i) => i.priceId));
      expect(again.items.every((i) => !i.fileChanged)).toBe(true);

      // A file that re-prices a built-in tier: subscribe by that name uses the file's price, not the built-in one.
      const repriced: CatalogueFile = structuredClone(withIds);
      const pro = repriced.plans.find((p) => p.name === 'pro')!;
      pro.price = { ...pro.price!, amount: 2500 };
      pro.stripePrices = { ...pro.stripePrices, local: ['price_pro_repriced_local'] };
      const seeded = await startStripeEmulator({ port: await freePort(), webhookUrl: `http://127.0.0.1:${await freePort()}/stripe/webhook`, delivery: { attempts: 1, retryDelayMs: 10 }, seed: catalogueSeed(repriced) });
      try {
        const { subscription } = await new StripeEmulatorControl(seeded.url).subscribe({ email: `repriced-${Date.now()}@example.test`, tier: 'pro' });
        expect((subscription as { items: { data: Array<{ price: { id: string; unit_amount: number } }> } }).items.data[0]!.price).toMatchObject({ id: 'price_pro_repriced_local', unit_amount: 2500 });
      } finally {
        await seeded.stop();
      }
    } finally {
      await restarted.stop();
    }
  });
});

describe('the local stack\'s emulator seed', () => {
  it('refuses a built-in price id listed for another amount (the page would show one price and Checkout sell another)', () => {
    const { file } = readCatalogueFile(resolve(ROOT, 'entitlements.config.json'));
    expect(catalogueSeed(file)).toEqual({ products: [], prices: [] });
    const wrong: CatalogueFile = structuredClone(file);
    wrong.plans.find((p) => p.name === 'pro')!.price!.amount = 1900;
    expect(() => catalogueSeed(wrong)).toThrow(/plan pro: price_pro_monthly is the emulator's built-in price of 1999, the file says 1900/);
  });
});
