import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { CatalogueError, bundledCatalogue, loadCatalogue, parseCatalogueFile, readCatalogueFile } from '../../shared/config/catalogue';
import { accessPolicyOf, decideAccess } from '../../shared/domain/access';
import {
  findPlan,
  planForPrice,
  planRank,
  publicCatalogue,
  resolveCatalogue,
  topUpFor,
  type CatalogueFileInput,
} from '../../shared/domain/catalogue';
import { meteredRemaining, planMeteredConsume } from '../../shared/domain/token-balances';
import { decideConsume } from '../../shared/domain/token-writes';
import { schemaText } from '../../scripts/catalogue';
import { DEFAULT_CATALOGUE_FILE, DEFAULT_CATALOGUE_PATH, defaultCatalogue, pushedCopy } from '../fixtures/catalogue';

const ROOT = resolve(__dirname, '..', '..');
const NOW = new Date('2026-11-15T12:00:00.000Z');

/** The default file as input, for a test to break one thing in. */
const base = (): CatalogueFileInput => JSON.parse(readFileSync(resolve(ROOT, 'entitlements.config.json'), 'utf8')) as CatalogueFileInput;
const refusal = (input: unknown): string => {
  try {
    parseCatalogueFile(JSON.stringify(input), 'entitlements.config.json');
  } catch (err) {
    expect(err).toBeInstanceOf(CatalogueError);
    return (err as Error).message;
  }
  throw new Error('the file was accepted');
};

describe('the default catalogue file is today\'s tiers', () => {
  const local = defaultCatalogue('local');

  it('has the plans in rank order with their allowances, API calls and prices', () => {
    expect(local.plans.map((p) => [p.name, p.monthlyTokens, p.monthlyApiCalls, p.price?.amount ?? null])).toEqual([
      ['free', 0, 0, null],
      ['tester', 1000, 1000, null],
      ['basic', 1000, 1000, 999],
      ['pro', 5000, 5000, 1999],
      ['enterprise', null, null, 4999],
      ['admin', null, null, null],
    ]);
    expect(local.plans.filter((p) => p.purchasable).map((p) => p.name)).toEqual(['basic', 'pro', 'enterprise']);
    expect(local.defaultPlan).toBe('free');
    expect(local.grantPlan).toBe('pro');
    expect(local.pastDueGrace).toEqual({ enabled: false, days: 7 });
  });

  it('has today\'s features', () => {
    const paid = ['premium', 'aws-credentials', 'api-access', 'token-top-ups'];
    expect(Object.fromEntries(local.plans.map((p) => [p.name, Object.keys(p.features)]))).toEqual({
      free: ['token-top-ups'],
      tester: paid,
      basic: paid,
      pro: paid,
      enterprise: [...paid, 'priority-support'],
      admin: [...paid, 'priority-support'],
    });
  });

  it('names the emulator\'s prices in "local" and none elsewhere', () => {
    expect(local.plans.map((p) => p.stripePriceIds)).toEqual([[], [], ['price_basic_monthly'], ['price_pro_monthly'], ['price_enterprise_monthly'], []]);
    expect(local.topUps).toEqual([{ name: 'tokens-100', displayName: '100 tokens', tokens: 100, price: { amount: 500, currency: 'usd' }, stripePriceIds: ['price_token_pack_100'] }]);
    expect(defaultCatalogue('live').plans.flatMap((p) => p.stripePriceIds)).toEqual([]);
  });

  it('finds plans by name and historical alias, prices by environment, and ranks by order', () => {
    expect(findPlan(local, ' PRO ')?.name).toBe('pro');
    expect(findPlan(local, 'creator')?.name).toBe('pro');
    expect(findPlan(local, 'agency')?.name).toBe('enterprise');
    expect(findPlan(local, 'platinum')).toBeUndefined();
    expect(planForPrice(local, 'price_pro_monthly')?.name).toBe('pro');
    expect(planForPrice(defaultCatalogue('live'), 'price_pro_monthly')).toBeUndefined();
    expect(planRank(local, 'agency')).toBeGreaterThan(planRank(local, 'pro'));
    expect(planRank(local, 'platinum')).toBe(-1);
  });

  it('serves a public view without aliases, with each feature\'s kind', () => {
    const view = publicCatalogue(local);
    expect(view.tiers.map((t) => t.name)).toEqual(['free', 'tester', 'basic', 'pro', 'enterprise', 'admin']);
    for (const tier of view.tiers) expect(Object.keys(tier)).not.toContain('aliases');
    expect(view.tiers[0]!.features).toEqual([{ key: 'token-top-ups', kind: 'boolean' }]);
    expect(view.topUps[0]).toMatchObject({ name: 'tokens-100', tokens: 100 });
  });

  it('sells top-ups as packs of the first priced pack whose size divides the amount', () => {
    expect(topUpFor(local, 300)).toMatchObject({ pack: { name: 'tokens-100' }, packs: 3 });
    expect(topUpFor(local, 150)).toBeUndefined();
    expect(topUpFor(defaultCatalogue('live'), 100)).toBeUndefined();
  });
});

describe('the committed JSON Schema', () => {
  it('is what the zod schema generates (run `npm run catalogue -- schema` after changing it)', () => {
    expect(readFileSync(resolve(ROOT, 'entitlements.config.schema.json'), 'utf8')).toBe(schemaText());
  });

  it('is what the default file points its editor at', () => {
    expect(DEFAULT_CATALOGUE_FILE.$schema).toBe('./entitlements.config.schema.json');
    const schema = JSON.parse(schemaText()) as { additionalProperties: boolean; required: string[] };
    // Strict, like the loader: an editor flags a typo too.
    expect(schema.additionalProperties).toBe(false);
    expect(schema.required).toEqual(['plans']);
  });
});

describe('the loader refuses a bad file with one message naming the file and the field', () => {
  it('a typo of a key (strict objects)', () => {
    const file = base() as any;
    file.plans[2].montlyTokens = 5;
    expect(refusal(file)).toMatch(/^entitlements\.config\.json: plans\[2\]: Unrecognized key: "montlyTokens"/);
  });

  it('a wrong type', () => {
    const file = base() as any;
    file.plans[2].monthlyTokens = 'lots';
    expect(refusal(file)).toBe('entitlements.config.json: plans[2].monthlyTokens: Invalid input: expected number, received string');
  });

  it('not JSON at all', () => {
    expect(() => parseCatalogueFile('{"plans": [', 'my.config.json')).toThrow(/^my\.config\.json: not valid JSON: /);
  });

  it('a fixture file on disk, by its own name', () => {
    expect(() => readCatalogueFile(resolve(ROOT, 'test/fixtures/catalogues/broken.config.json'))).toThrow(
      'broken.config.json: plans[2].monthlyTokens: Invalid input: expected number, received string',
    );
    expect(() => readCatalogueFile(resolve(ROOT, 'test/fixtures/catalogues/missing.json'))).toThrow(/missing\.json: cannot read the catalogue file: ENOENT/);
  });

  it('a plan name or alias used twice', () => {
    const file = base() as any;
    file.plans[3].aliases = ['creator', 'basic'];
    expect(refusal(file)).toMatch(/plans\[3\]\.aliases\[1\]: "basic" is already a name or alias of plans\[2\]/);
  });

  it('no default plan, or a default plan that costs money', () => {
    const missing = base() as any;
    missing.defaultPlan = 'gratis';
    expect(refusal(missing)).toMatch(/defaultPlan: names no plan: "gratis" \(plans: free, tester/);
    const paid = base() as any;
    paid.plans[0].price = { amount: 100, currency: 'usd', interval: 'month' };
    expect(refusal(paid)).toMatch(/plans\[0\]\.price: the default plan is free of charge/);
  });

  it('a feature metered in one plan and boolean in another, or a built-in feature metered', () => {
    const mixed = base() as any;
    mixed.plans[2].features.exports = { monthlyLimit: 10 };
    mixed.plans[3].features.exports = true;
    expect(refusal(mixed)).toMatch(/plans\[3\]\.features\.exports: "exports" is metered in an earlier plan/);
    const builtIn = base() as any;
    for (const plan of builtIn.plans) if (plan.features.premium) plan.features.premium = { monthlyLimit: 3 };
    expect(refusal(builtIn)).toMatch(/"premium" is a built-in boolean feature/);
  });

  it('source rules naming plans that do not exist', () => {
    const file = base() as any;
    file.sources.kofi = { tiers: { Gold: 'platinum' }, defaultPlan: 'pro' };
    file.sources.admin.grantPlan = 'gold';
    const message = refusal(file);
    expect(message).toMatch(/sources\.kofi\.tiers\.Gold: names no plan: "platinum"/);
    expect(message).toMatch(/sources\.admin\.grantPlan: names no plan: "gold"/);
  });

  it('one Stripe price in two places of one environment (another environment may reuse an id)', () => {
    const file = base() as any;
    file.topUps[0].stripePrices.local = ['price_pro_monthly'];
    expect(refusal(file)).toMatch(/topUps\[0\]\.stripePrices\.local\[0\]: price_pro_monthly is already the price of plans\[3\] \(pro\) in "local"/);
    const elsewhere = base() as any;
    elsewhere.topUps[0].stripePrices.test = ['price_pro_monthly'];
    expect(() => parseCatalogueFile(JSON.stringify(elsewhere), 'x.json')).not.toThrow();
  });

  it('a Stripe price id that is not one', () => {
    const file = base() as any;
    file.plans[2].stripePrices.local = ['prod_basic'];
    expect(refusal(file)).toMatch(/plans\[2\]\.stripePrices\.local\[0\]: must be a Stripe price id/);
  });

  it('a yearly, weekly or daily price: the allowances are monthly, so a plan is billed monthly', () => {
    for (const interval of ['year', 'week', 'day']) {
      const file = base() as any;
      file.plans[3].price.interval = interval;
      expect(refusal(file)).toMatch(/plans\[3\]\.price\.interval: yearly, weekly and daily plans are not supported yet .*interval must be "month"/);
    }
  });
});

describe('a cold start serves the catalogue only for an environment it can sell in, and only without retired settings', () => {
  const load = (environment: string, env: Record<string, string> = {}) => () => loadCatalogue(environment, { CATALOGUE_FILE: DEFAULT_CATALOGUE_PATH, ...env });

  it('refuses the retired variables, naming the field of the file that holds each value now', () => {
    const refusal = load('local', { STRIPE_PRICE_PRO: 'price_old', TIER_BASIC_MONTHLY_TOKENS: '2000', TOKEN_PACK_SIZE: '50', PAST_DUE_GRACE_DAYS: '3', ADMIN_GRANT_TIER: 'pro', TIER_TEAM_MONTHLY_TOKENS: '5' });
    expect(refusal).toThrow(CatalogueError);
    for (const named of [
      'variable STRIPE_PRICE_PRO is no longer read: set plans[pro].stripePrices.local in entitlements.config.json instead',
      'variable TIER_BASIC_MONTHLY_TOKENS is no longer read: set plans[basic].monthlyTokens',
      'variable TOKEN_PACK_SIZE is no longer read: set topUps[].tokens',
      'variable PAST_DUE_GRACE_DAYS is no longer read: set pastDueGrace.days',
      'variable ADMIN_GRANT_TIER is no longer read: set sources.admin.grantPlan',
      // One of the family the old code never had is as dead.
      'variable TIER_TEAM_MONTHLY_TOKENS is no longer read',
    ]) {
      expect(refusal).toThrow(named);
    }
    // Empty is unset (a blanked variable in a template).
    expect(load('local', { PAST_DUE_GRACE: '' })().environment).toBe('local');
  });

  it('refuses an environment the file does not name, and a priced plan or top-up without a price id there', () => {
    expect(load('live')).toThrow('entitlements.config.json: the Stripe environment "live" (CATALOGUE_ENVIRONMENT / context catalogueEnvironment) is not in the file (it has: local)');
    expect(load('live')).toThrow('entitlements.config.json: plans[2] (basic) has a price but no Stripe price id in "live": add it to plans[2].stripePrices.live');
    expect(load('live')).toThrow('topUps[0] (tokens-100) has a price but no Stripe price id in "live"');
    const half = JSON.parse(readFileSync(pushedCopy(DEFAULT_CATALOGUE_PATH, ['live']), 'utf8'));
    half.plans[3].stripePrices.live = [];
    const path = pushedCopy(DEFAULT_CATALOGUE_PATH, []);
    writeFileSync(path, JSON.stringify(half));
    const message = (() => {
      try {
        loadCatalogue('live', { CATALOGUE_FILE: path });
      } catch (err) {
        return (err as Error).message;
      }
      throw new Error('served');
    })();
    expect(message).toBe('entitlements.config.json: plans[3] (pro) has a price but no Stripe price id in "live": add it to plans[3].stripePrices.live (`npm run catalogue -- push --env live` creates the prices and prints their ids)');
  });

  it('serves the environments the file sells in; a file that sells nothing needs no environment', () => {
    expect(load('local')().plans.find((p) => p.name === 'pro')!.stripePriceIds).toEqual(['price_pro_monthly']);
    expect(loadCatalogue('live', { CATALOGUE_FILE: pushedCopy(DEFAULT_CATALOGUE_PATH, ['live']) }).plans.find((p) => p.name === 'pro')!.stripePriceIds).toEqual(['price_pro_live']);
    const freeOnly = pushedCopy(DEFAULT_CATALOGUE_PATH, []);
    writeFileSync(freeOnly, JSON.stringify({ plans: [{ name: 'free', displayName: 'Free', monthlyTokens: 0, monthlyApiCalls: 0, features: {} }] }));
    expect(loadCatalogue('live', { CATALOGUE_FILE: freeOnly }).plans.map((p) => p.name)).toEqual(['free']);
  });
});

describe('a custom catalogue: a new plan, a metered feature, a per-plan rate', () => {
  const custom = resolveCatalogue(readCatalogueFile(resolve(ROOT, 'test/fixtures/catalogues/custom.config.json')).file, 'local');
  const policy = accessPolicyOf(custom);
  const team = { status: 'none' as const, tier: 'free', adminTier: 'team', adminTierSetOn: 'none|-|-' };

  it('decides the new plan\'s access: its tokens, its metered limit, its rate', () => {
    const access = decideAccess(team, custom, policy, NOW);
    expect(access).toMatchObject({ tier: 'team', premium: true, monthlyTokens: 300, monthlyApiCalls: 2000, metered: { 'report-exports': 3 } });
    expect(access.features).toContain('team-seats');
    expect(access.rateLimits.apiCalls).toEqual({ limit: 25, windowMs: 1000 });
    // Plans without their own rate keep the deployment's.
    expect(decideAccess({ status: 'active', tier: 'pro' }, custom, policy, NOW).rateLimits.apiCalls).toEqual({ limit: 10, windowMs: 1000 });
  });

  it('spends a metered feature up to its limit and never over, leaving tokens alone', () => {
    const access = decideAccess(team, custom, policy, NOW);
    let row: Record<string, unknown> = { ...team, tokensPurchased: 7 };
    for (const left of [2, 1, 0]) {
      const decision = decideConsume({ userId: 'u', amount: 1, idempotencyKey: `k${left}`, feature: 'report-exports' }, row, access, NOW, () => 'x');
      if (!decision.write) throw new Error('refused');
      expect(decision.response).toEqual({ consumed: 1, remaining: left });
      expect(Object.keys(decision.counters)).toEqual(['meteredUsage']);
      expect(decision.entries).toEqual([expect.objectContaining({ kind: 'consume', feature: 'report-exports', amount: 1, balanceAfter: left })]);
      row = { ...row, ...decision.counters };
    }
    expect(decideConsume({ userId: 'u', amount: 1, idempotencyKey: 'over', feature: 'report-exports' }, row, access, NOW, () => 'x')).toEqual({ write: false, remaining: 0 });
    expect(row.tokensPurchased).toBe(7);
  });

  it('starts a metered count afresh with the next allowance period', () => {
    const access = decideAccess(team, custom, policy, NOW);
    const row = { meteredUsage: { 'report-exports': { period: '2026-10-01T00:00:00.000Z', used: 3 } } };
    expect(meteredRemaining(row, 'report-exports', access)).toEqual({ remaining: 3, limit: 3, included: true });
    const plan = planMeteredConsume(row, 'report-exports', 2, access);
    expect(plan).toEqual({ ok: true, period: '2026-11-01T00:00:00.000Z', remaining: 1, next: { 'report-exports': { period: '2026-11-01T00:00:00.000Z', used: 2 } } });
  });

  it('gives nothing of a metered feature the plan does not have, and unlimited where the limit is null', () => {
    const free = decideAccess(undefined, custom, policy, NOW);
    expect(meteredRemaining({}, 'report-exports', free)).toEqual({ remaining: 0, limit: 0, included: false });
    expect(planMeteredConsume({}, 'report-exports', 1, free)).toEqual({ ok: false, remaining: 0 });
    const enterprise = decideAccess({ status: 'active', tier: 'enterprise' }, custom, policy, NOW);
    expect(planMeteredConsume({}, 'report-exports', 1_000, enterprise)).toMatchObject({ ok: true, remaining: null });
  });
});

describe('the policy comes from the file', () => {
  it('past_due grace: off by default; on, the plan holds for its days from the first sighting', () => {
    const pastDue = { status: 'past_due' as const, tier: 'pro', pastDueSince: '2026-11-10T12:00:00.000Z' };
    const off = defaultCatalogue('local');
    expect(decideAccess(pastDue, off, accessPolicyOf(off), NOW)).toMatchObject({ tier: 'free', reason: 'past-due' });
    const file = base() as any;
    file.pastDueGrace = { enabled: true, days: 10 };
    const on = resolveCatalogue(parseCatalogueFile(JSON.stringify(file), 'x.json'), 'local');
    expect(decideAccess(pastDue, on, accessPolicyOf(on), NOW)).toMatchObject({ tier: 'pro', reason: 'past-due-grace', graceEndsAt: '2026-11-20T12:00:00.000Z' });
    expect(decideAccess(pastDue, on, accessPolicyOf(on), new Date('2026-11-21T00:00:00.000Z'))).toMatchObject({ tier: 'free', reason: 'past-due' });
  });

  it("an admin grant without a plan gives sources.admin.grantPlan, else the best plan", () => {
    const grant = { status: 'none' as const, tier: 'free', premiumOverride: true };
    const file = base() as any;
    file.sources.admin.grantPlan = 'basic';
    const basic = resolveCatalogue(parseCatalogueFile(JSON.stringify(file), 'x.json'), 'local');
    expect(decideAccess(grant, basic, accessPolicyOf(basic), NOW)).toMatchObject({ tier: 'basic', reason: 'admin-grant' });
    delete file.sources.admin;
    const best = resolveCatalogue(parseCatalogueFile(JSON.stringify(file), 'x.json'), 'local');
    expect(best.grantPlan).toBe('admin');
  });
});

describe('the catalogue a function bundle carries (bundledCatalogue)', () => {
  const rootText = readFileSync(resolve(__dirname, '../..', 'entitlements.config.json'), 'utf8');

  it('reads back, with JSON.parse and no schema, exactly the file the schema parsed (defaults filled in)', () => {
    const minimal = JSON.stringify({ plans: [{ name: 'free', displayName: 'Free', monthlyTokens: 0, monthlyApiCalls: 0, features: {} }] });
    for (const text of [rootText, minimal]) {
      const parsed = parseCatalogueFile(text, 'test.json');
      expect(JSON.parse(bundledCatalogue(text, 'test.json'))).toStrictEqual(parsed);
    }
    expect(JSON.parse(bundledCatalogue(JSON.stringify({ plans: [{ name: 'free', displayName: 'Free', monthlyTokens: 0, monthlyApiCalls: 0, features: {} }] })))).toMatchObject({
      defaultPlan: 'free',
      topUps: [],
      pastDueGrace: { enabled: false, days: 7 },
    });
  });

  it('refuses a file the schema refuses, naming the field (the synth stops)', () => {
    expect(() => bundledCatalogue(JSON.stringify({ plans: [{ name: 'Free', displayName: 'Free', monthlyTokens: 0, monthlyApiCalls: 0, features: {} }] }), 'x.json')).toThrow(
      /x\.json: plans\[0\]\.name/,
    );
  });
});
