import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { App, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { HouseFunction } from '../../infra/constructs/house-function';
import { FUNCTIONS } from '../../shared/routes';
import { apiEvent, noContext } from '../fixtures/handlers';
import { DEFAULT_CATALOGUE_PATH, pushedCopy } from '../fixtures/catalogue';

/**
 * The catalogue at the two start paths and in the bundle: a broken file stops
 * `cdk synth` and `npm run local` with the file and the field named (before
 * anything is built or spawned), and a function bundle carries the file it
 * was synthesised with and serves it with no file on disk.
 */

jest.setTimeout(180_000);

const ROOT = resolve(__dirname, '..', '..');
const BROKEN = resolve(ROOT, 'test/fixtures/catalogues/broken.config.json');
const CUSTOM = resolve(ROOT, 'test/fixtures/catalogues/custom.config.json');
const FIELD = 'broken.config.json: plans[2].monthlyTokens: Invalid input: expected number, received string';

function run(command: string, args: string[], env: Record<string, string>): Promise<{ code: number | null; out: string; ms: number }> {
  const started = Date.now();
  return new Promise((done) => {
    const child = spawn(command, args, { cwd: ROOT, env: { ...process.env, ...env } });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('close', (code) => done({ code, out, ms: Date.now() - started }));
  });
}

describe('a broken catalogue stops the start paths, naming the file and the field', () => {
  it('cdk synth (the CLI running the app entry)', async () => {
    const outdir = mkdtempSync(join(tmpdir(), 'cdk-out-'));
    try {
      const result = await run(process.execPath, [require.resolve('aws-cdk/bin/cdk'), 'synth', '--quiet', '--output', outdir], { CATALOGUE_FILE: BROKEN });
      expect(result.code).not.toBe(0);
      expect(result.out).toContain('The catalogue is invalid; nothing was synthesised');
      expect(result.out).toContain(FIELD);
      expect(readdirSync(outdir).filter((f) => f.endsWith('.template.json'))).toEqual([]);
    } finally {
      rmSync(outdir, { recursive: true, force: true });
    }
  });

  it('npm run local, before anything is spawned', async () => {
    const stateDir = `.local/test-broken-catalogue-${process.pid}`;
    try {
      const result = await run(process.execPath, [require.resolve('tsx/cli'), 'infra/local/main.ts'], {
        CATALOGUE_FILE: BROKEN,
        LOCAL_STACK_DIR: stateDir,
        LOCAL_RANDOM_PORTS: '1',
        LOCAL_STACK_PARENT_PID: String(process.pid),
      });
      expect(result.code).toBe(1);
      expect(result.out).toContain(`Local stack failed to start:\n${FIELD}`);
      // Refused before DynamoDB Local, Redis or cognito-local were started: nothing left to stop.
      expect(result.out).not.toMatch(/DynamoDB|cognito/i);
    } finally {
      rmSync(resolve(ROOT, stateDir), { recursive: true, force: true });
    }
  });
});

describe('settings that moved into the catalogue, and an environment the file cannot sell in, stop the start paths', () => {
  it('cdk synth: a retired context key names its field in the file; the shipped file has no "test" prices yet', async () => {
    const outdir = mkdtempSync(join(tmpdir(), 'cdk-out-'));
    try {
      const result = await run(process.execPath, [require.resolve('aws-cdk/bin/cdk'), 'synth', '--quiet', '--output', outdir, '-c', 'stripePricePro=price_old', '-c', 'tierProMonthlyTokens=9000'], { CATALOGUE_FILE: DEFAULT_CATALOGUE_PATH });
      expect(result.code).not.toBe(0);
      expect(result.out).toContain('The CDK context is invalid; nothing was synthesised');
      expect(result.out).toContain('context key stripePricePro is no longer read: set plans[pro].stripePrices.test in entitlements.config.json instead');
      expect(result.out).toContain('context key tierProMonthlyTokens is no longer read: set plans[pro].monthlyTokens in entitlements.config.json instead');
      expect(result.out).toContain('entitlements.config.json: the Stripe environment "test" (CATALOGUE_ENVIRONMENT / context catalogueEnvironment) is not in the file (it has: local)');
      expect(result.out).toContain('entitlements.config.json: plans[3] (pro) has a price but no Stripe price id in "test": add it to plans[3].stripePrices.test');
      expect(readdirSync(outdir).filter((f) => f.endsWith('.template.json'))).toEqual([]);
    } finally {
      rmSync(outdir, { recursive: true, force: true });
    }
  });

  it('npm run local: a retired variable names its field; an environment the file does not have names the environment and the plans', async () => {
    const stateDir = `.local/test-retired-settings-${process.pid}`;
    try {
      const result = await run(process.execPath, [require.resolve('tsx/cli'), 'infra/local/main.ts'], {
        CATALOGUE_FILE: DEFAULT_CATALOGUE_PATH,
        CATALOGUE_ENVIRONMENT: 'live',
        TIER_PRO_MONTHLY_TOKENS: '9000',
        PAST_DUE_GRACE: 'true',
        LOCAL_STACK_DIR: stateDir,
        LOCAL_RANDOM_PORTS: '1',
        LOCAL_STACK_PARENT_PID: String(process.pid),
      });
      expect(result.code).toBe(1);
      expect(result.out).toContain('Local stack failed to start:\nvariable PAST_DUE_GRACE is no longer read: set pastDueGrace.enabled in entitlements.config.json instead');
      expect(result.out).toContain('variable TIER_PRO_MONTHLY_TOKENS is no longer read: set plans[pro].monthlyTokens in entitlements.config.json instead');
      expect(result.out).toContain('the Stripe environment "live" (CATALOGUE_ENVIRONMENT / context catalogueEnvironment) is not in the file');
      expect(result.out).toContain('plans[2] (basic) has a price but no Stripe price id in "live"');
      expect(result.out).not.toMatch(/DynamoDB|cognito/i);
    } finally {
      rmSync(resolve(ROOT, stateDir), { recursive: true, force: true });
    }
  });
});

describe('the function bundle carries the catalogue', () => {
  const outdir = resolve(ROOT, `cdk.out.test-catalogue-${process.pid}`);
  let template: Template;
  let stack: Stack;
  let fn: HouseFunction;

  beforeAll(() => {
    const app = new App({ outdir });
    stack = new Stack(app, 'CatalogueBundle');
    const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 1, natGateways: 0, subnetConfiguration: [{ name: 'private', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS }, { name: 'public', subnetType: ec2.SubnetType.PUBLIC }] });
    fn = new HouseFunction(stack, 'TokensAdmin', {
      definition: FUNCTIONS['tokens-admin'],
      vpc,
      logRetention: RetentionDays.ONE_DAY,
      removalPolicy: RemovalPolicy.DESTROY,
      catalogue: { text: readFileSync(pushedCopy(CUSTOM, ['staging']), 'utf8'), environment: 'staging' },
    });
    app.synth();
    template = Template.fromStack(stack);
  });

  afterAll(() => rmSync(outdir, { recursive: true, force: true }));

  it('names the Stripe environment in CATALOGUE_ENVIRONMENT', () => {
    template.hasResourceProperties('AWS::Lambda::Function', { Environment: { Variables: { CATALOGUE_ENVIRONMENT: 'staging' } } });
  });

  it('serves GET /v1/tiers from the bundled file, with no catalogue file on disk', async () => {
    const key = stack.resolve((fn.function.node.defaultChild as unknown as { code: { s3Key: string } }).code.s3Key) as string;
    const bundle = join(outdir, `asset.${key.replace(/\.zip$/, '')}`, 'index.js');
    expect(readFileSync(bundle, 'utf8')).not.toContain('__ENTITLEMENTS_CATALOGUE__');
    // The source map ships beside the bundle: stack traces are mapped from it on the first one (no --enable-source-maps).
    expect(existsSync(`${bundle}.map`)).toBe(true);
    const saved = { ...process.env };
    Object.assign(process.env, {
      AWS_REGION: 'us-east-1',
      TABLE_USERS: 'u',
      TABLE_ENTITLEMENTS: 'e',
      TABLE_LEDGER: 'l',
      TABLE_IDEMPOTENCY: 'i',
      TABLE_API_KEYS: 'k',
      TABLE_EMAIL_OWNERS: 'o',
      TABLE_KOFI: 'f',
      REDIS_DISABLED: 'true',
      INTERNAL_API_KEYS: 'infra-key',
      CATALOGUE_ENVIRONMENT: 'staging',
      // Any file the loader might read instead would be missing: only the bundled text can answer.
      CATALOGUE_FILE: '/nonexistent/entitlements.config.json',
    });
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports -- the bundle as Lambda loads it
      const { handler } = require(bundle) as { handler: (event: unknown, context: unknown) => Promise<{ statusCode: number; body: string }> };
      const res = await handler(apiEvent({ resource: '/v1/tiers', httpMethod: 'GET', path: '/v1/tiers' }), noContext);
      expect(res.statusCode).toBe(200);
      const body = JSON.parse(res.body) as { tiers: Array<{ name: string; stripePriceIds: string[] }> };
      expect(body.tiers.map((t) => t.name)).toEqual(['free', 'tester', 'basic', 'pro', 'team', 'enterprise', 'admin']);
      // The "staging" environment's prices; the "local" ids of the same file are not used.
      expect(body.tiers.flatMap((t) => t.stripePriceIds)).toEqual(['price_basic_staging', 'price_pro_staging', 'price_team_staging', 'price_enterprise_staging']);
    } finally {
      process.env = saved;
    }
  });
});
