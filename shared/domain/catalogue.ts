import * as z from 'zod';
import { resolveCatalogue, type Catalogue } from './catalogue-model';

/**
 * The product catalogue: plans, features, top-up packs, past_due grace and
 * the source rules, as the operator writes them in `entitlements.config.json`
 * (or the file CATALOGUE_FILE names). This zod schema is the ONE definition of
 * that file: the loader (shared/config/catalogue.ts) validates with it, the
 * committed JSON Schema editors complete from is generated from it
 * (`npm run catalogue -- schema`), and the rest of the code reads the
 * resolved `Catalogue` below.
 *
 * Objects are strict: an unknown key is an error, so a typo (`montlyTokens`)
 * fails the start instead of silently meaning "unlimited" or "default".
 * Plan order is rank: a later plan is better (when sources compete, the best
 * active one wins).
 */

/** Plan names and aliases: lower-case words, as callers send them (PUT tier, checkout). */
const PLAN_NAME = /^[a-z][a-z0-9-]{0,39}$/;
/** Feature keys are free-form but URL- and header-safe: an app backend sends them in requests. */
const FEATURE_KEY = /^[a-z0-9][a-z0-9._:-]{0,63}$/;
/** Stripe environments: the keys of `stripePrices` (local, test, live, staging...). */
const ENVIRONMENT_NAME = /^[a-z][a-z0-9-]{0,19}$/;
/** A Stripe price id (`price_...`): anything else is a typo for one. */
const PRICE_ID = /^price_[A-Za-z0-9_]{1,200}$/;

/** The features whose meaning is built in (access decision); any other key is the operator's own. */
export const BUILT_IN_FEATURES = ['premium', 'aws-credentials', 'api-access', 'token-top-ups'] as const;

// Module-level schemas are built by @__PURE__ calls so bundles drop the unused ones (note in shared/config/index.ts).
const planName = /* @__PURE__ */ (() => z.string().regex(PLAN_NAME, { error: 'must be lower-case letters, digits and dashes, starting with a letter (at most 40)' }))();
const count = /* @__PURE__ */ (() => z.number().int({ error: 'must be a whole number' }).min(0, { error: 'must be 0 or more' }))();
const unlimitedCount = /* @__PURE__ */ (() => count.nullable().meta({ description: 'null = unlimited' }))();

const featureValue = /* @__PURE__ */ (() =>
  z
    .union([z.literal(true), z.strictObject({ monthlyLimit: unlimitedCount.meta({ description: 'Uses a month (reset with the token allowance); null = unlimited' }) })], {
      error: 'must be true (a boolean feature) or {"monthlyLimit": n | null} (a metered feature)',
    })
    .meta({ description: 'true: the plan has the feature; {monthlyLimit}: a metered feature with a monthly allowance' }))();

const currency = /* @__PURE__ */ (() => z.string().regex(/^[a-z]{3}$/, { error: 'must be a lower-case ISO 4217 code, e.g. usd' }))();
const amount = /* @__PURE__ */ (() => count.meta({ description: "In the currency's smallest unit (999 = $9.99)" }))();

const stripePrices = /* @__PURE__ */ (() =>
  z
    .record(z.string().regex(ENVIRONMENT_NAME, { error: 'environment names are lower-case words (local, test, live)' }), z.array(z.string().regex(PRICE_ID, { error: 'must be a Stripe price id (price_...)' })))
    .meta({ description: 'Stripe price ids per environment (CATALOGUE_ENVIRONMENT picks one); `npm run catalogue -- push` prints them' }))();

const planSchema = /* @__PURE__ */ (() =>
  z
    .strictObject({
      name: planName.meta({ description: 'What callers send (PUT tier, checkout) and what responses say' }),
      displayName: z.string().trim().min(1, { error: 'must not be empty' }).max(80),
      description: z.string().max(500).optional(),
      aliases: z.array(planName).optional().meta({ description: 'Older names, accepted on input, never returned' }),
      monthlyTokens: unlimitedCount.meta({ description: 'Token allowance a period; null = unlimited' }),
      monthlyApiCalls: unlimitedCount.meta({ description: 'Verified end-user API key calls a period (needs api-access); null = unlimited' }),
      rateLimitPerSecond: z.number().int().min(1).max(10_000).optional().meta({ description: 'Verified API calls a second per user; default: the deployment\'s API_KEY_RATE_LIMIT' }),
      trialDays: z.number().int().min(0).max(730).optional().meta({ description: 'Free trial of a Stripe Checkout for this plan' }),
      price: z
        .strictObject({
          amount,
          currency,
          // Allowances reset with the billing period and are granted as one month's worth: a yearly price would buy one month's tokens a year.
          interval: z
            .literal('month', { error: 'yearly, weekly and daily plans are not supported yet (allowances are monthly and reset with the billing period): interval must be "month"' })
            .meta({ description: 'Billing interval: only "month" (allowances are monthly)' }),
        })
        .optional()
        .meta({ description: 'List price: what push creates in Stripe and what GET /v1/tiers shows. A plan with a price is sold through Checkout' }),
      stripePrices: stripePrices.optional(),
      features: z.record(z.string().regex(FEATURE_KEY, { error: 'feature keys are lower-case letters, digits and . _ : -' }), featureValue),
    })
    .meta({ description: 'A plan. Order in `plans` is rank: a later plan is better' }))();

const topUpSchema = /* @__PURE__ */ (() =>
  z.strictObject({
    name: planName.meta({ description: 'The pack\'s id (product metadata in Stripe)' }),
    displayName: z.string().trim().min(1).max(80).optional(),
    tokens: z.number().int().min(1).max(1_000_000).meta({ description: 'Tokens one pack buys (purchased tokens never reset)' }),
    price: z.strictObject({ amount, currency }),
    stripePrices: stripePrices.optional(),
  }))();

export const catalogueFileSchema = /* @__PURE__ */ (() =>
  z
    .strictObject({
      $schema: z.string().optional(),
      defaultPlan: planName.default('free').meta({ description: 'The free-of-charge base plan: what anyone without a paid source gets' }),
      plans: z.array(planSchema).min(1, { error: 'must name at least the default plan' }),
      topUps: z.array(topUpSchema).default([]),
      pastDueGrace: z
        .strictObject({ enabled: z.boolean(), days: z.number().int().min(1).max(60).default(7) })
        .default({ enabled: false, days: 7 })
        .meta({ description: 'Keep the plan while Stripe retries a failed payment (past_due), for `days` from the first sighting' }),
      sources: z
        .strictObject({
          stripe: z.strictObject({}).default({}).meta({ description: 'Stripe prices are on the plans (stripePrices)' }),
          kofi: z
            .strictObject({
              tiers: z.record(z.string().min(1).max(100), planName).default({}).meta({ description: "Ko-fi membership tier_name -> plan" }),
              defaultPlan: planName.meta({ description: 'The plan of a Ko-fi subscription whose tier is not listed' }),
              graceDays: z.number().int().min(0).max(60).default(3),
            })
            .optional(),
          admin: z
            .strictObject({ grantPlan: planName.meta({ description: 'What an admin grant gives when it names no plan' }) })
            .optional()
            .meta({ description: 'Admin overrides; without it a grant that names no plan gives the best plan' }),
        })
        .default({ stripe: {} }),
    })
    .superRefine((file, ctx) => {
      const names = new Map<string, number>();
      file.plans.forEach((plan, i) => {
        for (const [j, word] of [plan.name, ...(plan.aliases ?? [])].entries()) {
          const first = names.get(word);
          if (first !== undefined) ctx.addIssue({ code: 'custom', path: ['plans', i, ...(j === 0 ? ['name'] : ['aliases', j - 1])], message: `"${word}" is already a name or alias of plans[${first}]` });
          else names.set(word, i);
        }
      });
      const known = (word: string) => names.has(word);
      const planList = file.plans.map((p) => p.name).join(', ');

      const base = file.plans.findIndex((p) => p.name === file.defaultPlan);
      if (base < 0) ctx.addIssue({ code: 'custom', path: ['defaultPlan'], message: `names no plan: "${file.defaultPlan}" (plans: ${planList})` });
      else {
        const plan = file.plans[base]!;
        if (plan.price || Object.values(plan.stripePrices ?? {}).some((ids) => ids.length > 0)) {
          ctx.addIssue({ code: 'custom', path: ['plans', base, 'price'], message: 'the default plan is free of charge: no price or Stripe prices' });
        }
      }

      // A key metered in one plan and boolean in another would have no single meaning for consume and features/check.
      const metered = new Map<string, boolean>();
      file.plans.forEach((plan, i) => {
        for (const [key, value] of Object.entries(plan.features)) {
          const isMetered = value !== true;
          const seen = metered.get(key);
          if (seen === undefined) metered.set(key, isMetered);
          else if (seen !== isMetered) ctx.addIssue({ code: 'custom', path: ['plans', i, 'features', key], message: `"${key}" is ${seen ? 'metered' : 'boolean'} in an earlier plan: a feature is metered in every plan that names it, or in none` });
        }
      });
      for (const key of BUILT_IN_FEATURES) {
        if (metered.get(key)) ctx.addIssue({ code: 'custom', path: ['plans'], message: `"${key}" is a built-in boolean feature; it cannot be metered` });
      }

      const kofi = file.sources.kofi;
      if (kofi) {
        for (const [tier, plan] of Object.entries(kofi.tiers)) if (!known(plan)) ctx.addIssue({ code: 'custom', path: ['sources', 'kofi', 'tiers', tier], message: `names no plan: "${plan}" (plans: ${planList})` });
        if (!known(kofi.defaultPlan)) ctx.addIssue({ code: 'custom', path: ['sources', 'kofi', 'defaultPlan'], message: `names no plan: "${kofi.defaultPlan}" (plans: ${planList})` });
      }
      const grant = file.sources.admin?.grantPlan;
      if (grant !== undefined && !known(grant)) ctx.addIssue({ code: 'custom', path: ['sources', 'admin', 'grantPlan'], message: `names no plan: "${grant}" (plans: ${planList})` });

      // One price buys one thing: a price in two places would make the webhook's answer depend on file order.
      const owners = new Map<string, string>();
      const claim = (ids: Record<string, string[]> | undefined, owner: string, path: Array<string | number>) => {
        for (const [environment, list] of Object.entries(ids ?? {})) {
          list.forEach((id, k) => {
            const key = `${environment}\u0000${id}`;
            const first = owners.get(key);
            if (first !== undefined) ctx.addIssue({ code: 'custom', path: [...path, 'stripePrices', environment, k], message: `${id} is already the price of ${first} in "${environment}"` });
            else owners.set(key, owner);
          });
        }
      };
      file.plans.forEach((plan, i) => claim(plan.stripePrices, `plans[${i}] (${plan.name})`, ['plans', i]));
      const packs = new Set<string>();
      file.topUps.forEach((pack, i) => {
        if (packs.has(pack.name)) ctx.addIssue({ code: 'custom', path: ['topUps', i, 'name'], message: `"${pack.name}" is already a top-up` });
        packs.add(pack.name);
        claim(pack.stripePrices, `topUps[${i}] (${pack.name})`, ['topUps', i]);
      });
    })
    .meta({ title: 'Entitlements catalogue', description: 'Plans, features, top-ups and source rules of one deployment (entitlements.config.json)' }))();

export type CatalogueFile = z.infer<typeof catalogueFileSchema>;
export type CatalogueFileInput = z.input<typeof catalogueFileSchema>;
export type PlanDefinition = CatalogueFile['plans'][number];

export * from './catalogue-model';

/** Validates and resolves in one step (tests and fixtures); throws zod's error. */
export function catalogueOf(input: CatalogueFileInput, environment = 'local'): Catalogue {
  return resolveCatalogue(catalogueFileSchema.parse(input), environment);
}

/**
 * The JSON Schema of the file (what `entitlements.config.schema.json` holds,
 * for editors): generated from the zod schema, in its input form (fields
 * with defaults are optional). Cross-field rules (unique names, existing
 * plans) are zod refinements JSON Schema cannot express: the loader checks them.
 */
export function catalogueJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(catalogueFileSchema, { io: 'input', target: 'draft-2020-12' }) as Record<string, unknown>;
}
