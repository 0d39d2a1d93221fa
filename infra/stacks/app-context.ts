import { RemovalPolicy } from 'aws-cdk-lib';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { catalogueFilePath, environmentProblems, readCatalogueFile, retiredContextProblems } from '../../shared/config/catalogue';
import { SCHEDULES, type ScheduleName } from '../../shared/routes';

/**
 * Deployment settings, read once from CDK context (`cdk.json` or `-c key=value`)
 * and validated here so a typo fails the synth with the key's name instead of
 * deploying something half-configured. Values given on the command line arrive
 * as strings; values from cdk.json arrive typed; both are accepted.
 */
export interface AppSettings {
  /** Lower-case stage name: used in stack names and as the API Gateway stage. */
  stage: string;
  /** `prod` keeps data (RETAIN + deletion protection); other stages clean up. */
  isProd: boolean;
  /** RETAIN in prod, DESTROY elsewhere: for tables, user pool, secrets and log groups. */
  removalPolicy: RemovalPolicy;
  natGateways: number;
  apiThrottleRateLimit: number;
  apiThrottleBurstLimit: number;
  /** Lower limits of the public routes (auth none, Stripe webhook), each method its own bucket. */
  publicThrottleRateLimit: number;
  publicThrottleBurstLimit: number;
  /** WAF rate-based rule: requests one IP may send in any 5 minutes before it is blocked. */
  wafRequestsPerIpPer5Minutes: number;
  /** Requests carrying x-api-key (the app's backends), per IP and 5 minutes. */
  wafBackendRequestsPerIpPer5Minutes: number;
  /** Email subscribed to the alarm topic; none when absent. */
  alarmEmail: string | undefined;
  /** Secrets Manager and STS interface endpoints in the VPC (default: off; see README, The edge). */
  interfaceEndpoints: boolean;
  logRetention: RetentionDays;
  cacheNodeType: string;
  /** When set, entitlement.changed is also POSTed here by an EventBridge API destination (https only). */
  eventsWebhookUrl?: string;
  /** Handler variables given in context (APP_BASE_URL), only those given. */
  functionEnvironment: Record<string, string>;
  /**
   * The catalogue every function carries (validated here, so a bad file stops
   * the synth naming the file and the field) and the Stripe environment whose
   * price ids apply (context `catalogueEnvironment`; default `live` in prod,
   * `test` elsewhere).
   */
  catalogue: { text: string; environment: string; source: string };
  /** EventBridge Scheduler expression of each schedule (shared/routes.ts SCHEDULES: its context key, else its default). */
  schedules: Record<ScheduleName, string>;
}

type ContextReader = { tryGetContext(key: string): unknown };

/** Context key -> handler environment variable. Plans, prices and grace are in the catalogue file, not here. */
const FUNCTION_CONTEXT: ReadonlyArray<readonly [string, string]> = [
  // Where Stripe Checkout and the billing portal send users back to.
  ['appBaseUrl', 'APP_BASE_URL'],
];

const VALID_RETENTION_DAYS = new Set<number>(
  Object.values(RetentionDays).filter((v): v is number => typeof v === 'number'),
);

export class ContextError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid CDK context: ${problems.join('; ')}`);
    this.name = 'ContextError';
  }
}

export function readAppSettings(node: ContextReader): AppSettings {
  const problems: string[] = [];

  const integer = (key: string, fallback: number, min: number): number => {
    const raw = node.tryGetContext(key);
    if (raw === undefined || raw === null || raw === '') return fallback;
    const value = typeof raw === 'number' ? raw : Number(String(raw).trim());
    if (!Number.isInteger(value) || value < min) {
      problems.push(`${key} must be an integer >= ${min} (got ${JSON.stringify(raw)})`);
      return fallback;
    }
    return value;
  };

  const rawStage = node.tryGetContext('stage');
  const stage = rawStage === undefined || rawStage === null || rawStage === '' ? 'dev' : String(rawStage);
  if (!/^[a-z][a-z0-9-]{0,19}$/.test(stage)) {
    problems.push(`stage must be lower-case letters, digits and dashes, starting with a letter (got ${JSON.stringify(rawStage)})`);
  }

  const isProd = stage === 'prod';
  // Functions reach Cognito, Secrets Manager and Stripe through NAT: zero NAT
  // gateways would leave every function without a route to them. In prod, one
  // per AZ: with one, losing its AZ cuts every function off from all three.
  const natGateways = integer('natGateways', isProd ? 2 : 1, 1);
  const apiThrottleRateLimit = integer('apiThrottleRateLimit', 100, 1);
  const apiThrottleBurstLimit = integer('apiThrottleBurstLimit', 200, 1);
  const publicThrottleRateLimit = integer('publicThrottleRateLimit', 20, 1);
  const publicThrottleBurstLimit = integer('publicThrottleBurstLimit', 40, 1);
  if (publicThrottleRateLimit > apiThrottleRateLimit) problems.push('publicThrottleRateLimit must not exceed apiThrottleRateLimit');
  // WAF's minimum for a rate-based rule is 10 requests per window.
  const wafRequestsPerIpPer5Minutes = integer('wafRequestsPerIpPer5Minutes', 3000, 10);
  // App backends (x-api-key): 30,000 per 5 minutes is 100/s, the stage's own default rate.
  const wafBackendRequestsPerIpPer5Minutes = integer('wafBackendRequestsPerIpPer5Minutes', 30000, 10);
  const rawEmail = node.tryGetContext('alarmEmail');
  const alarmEmail = rawEmail === undefined || rawEmail === null || rawEmail === '' ? undefined : String(rawEmail).trim();
  if (alarmEmail !== undefined && !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(alarmEmail)) problems.push(`alarmEmail is not an email address: ${alarmEmail}`);
  const rawEndpoints = node.tryGetContext('interfaceEndpoints');
  const interfaceEndpoints = rawEndpoints === true || rawEndpoints === 'true';
  if (rawEndpoints !== undefined && rawEndpoints !== null && rawEndpoints !== '' && typeof rawEndpoints !== 'boolean' && rawEndpoints !== 'true' && rawEndpoints !== 'false') {
    problems.push(`interfaceEndpoints must be true or false (got ${JSON.stringify(rawEndpoints)})`);
  }
  const logRetentionDays = integer('logRetentionDays', 30, 1);
  if (!VALID_RETENTION_DAYS.has(logRetentionDays)) {
    problems.push(
      `logRetentionDays must be one of CloudWatch's retention values (${[...VALID_RETENTION_DAYS].sort((a, b) => a - b).join(', ')}); got ${logRetentionDays}`,
    );
  }

  const rawNodeType = node.tryGetContext('cacheNodeType');
  const cacheNodeType = rawNodeType === undefined || rawNodeType === '' ? 'cache.t4g.micro' : String(rawNodeType);
  if (!/^cache\.[a-z0-9]+\.[a-z0-9]+$/.test(cacheNodeType)) problems.push(`cacheNodeType is not a node type: ${cacheNodeType}`);

  const functionEnvironment: Record<string, string> = {};
  for (const [key, envVar] of FUNCTION_CONTEXT) {
    const raw = node.tryGetContext(key);
    if (raw === undefined || raw === null || raw === '') continue;
    functionEnvironment[envVar] = String(raw).trim();
  }

  const rawCatalogueEnvironment = node.tryGetContext('catalogueEnvironment');
  const catalogueEnvironment =
    rawCatalogueEnvironment === undefined || rawCatalogueEnvironment === null || rawCatalogueEnvironment === '' ? (isProd ? 'live' : 'test') : String(rawCatalogueEnvironment).trim();
  if (!/^[a-z][a-z0-9-]{0,19}$/.test(catalogueEnvironment)) problems.push(`catalogueEnvironment must be a lower-case environment name of the catalogue (got ${JSON.stringify(rawCatalogueEnvironment)})`);
  // CATALOGUE_FILE or the root file; a CatalogueError names the file and the field.
  const catalogueFile = readCatalogueFile(catalogueFilePath());
  // Plans, prices and grace moved into the file: a leftover key would deploy other prices or allowances without a word.
  problems.push(...retiredContextProblems((key) => node.tryGetContext(key), catalogueEnvironment, catalogueFile.source));
  problems.push(...environmentProblems(catalogueFile.file, catalogueEnvironment, catalogueFile.source));

  const schedules = {} as Record<ScheduleName, string>;
  for (const [name, schedule] of Object.entries(SCHEDULES) as Array<[ScheduleName, (typeof SCHEDULES)[ScheduleName]]>) {
    const raw = node.tryGetContext(schedule.contextKey);
    const expression = raw === undefined || raw === null || raw === '' ? schedule.defaultExpression : String(raw).trim();
    // EventBridge Scheduler's forms; anything else would fail only at deploy time.
    if (!/^(rate\(\d+ (minute|minutes|hour|hours|day|days)\)|cron\(\S+( \S+){5}\))$/.test(expression)) {
      problems.push(`${schedule.contextKey} must be rate(N minutes|hours|days) or cron(min hour day month weekday year) (got ${JSON.stringify(raw)})`);
    }
    schedules[name] = expression;
  }

  const rawWebhook = node.tryGetContext('eventsWebhookUrl');
  const eventsWebhookUrl = rawWebhook === undefined || rawWebhook === null || rawWebhook === '' ? undefined : String(rawWebhook).trim();
  // API destinations call HTTPS endpoints only.
  if (eventsWebhookUrl !== undefined && !/^https:\/\/[^\s/]+/.test(eventsWebhookUrl)) problems.push(`eventsWebhookUrl must be an https:// URL (got ${JSON.stringify(rawWebhook)})`);

  if (problems.length > 0) throw new ContextError(problems);

  return {
    stage,
    isProd,
    removalPolicy: isProd ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    natGateways,
    apiThrottleRateLimit,
    apiThrottleBurstLimit,
    publicThrottleRateLimit,
    publicThrottleBurstLimit,
    wafRequestsPerIpPer5Minutes,
    wafBackendRequestsPerIpPer5Minutes,
    alarmEmail,
    interfaceEndpoints,
    logRetention: logRetentionDays as RetentionDays,
    cacheNodeType,
    ...(eventsWebhookUrl ? { eventsWebhookUrl } : {}),
    functionEnvironment,
    catalogue: { text: JSON.stringify(JSON.parse(catalogueFile.text)), environment: catalogueEnvironment, source: catalogueFile.source },
    schedules,
  };
}
