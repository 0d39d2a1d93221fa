/**
 * `npm run local`: the whole backend on loopback, no AWS account needed.
 * Environment: REDIS_URL (use this Redis instead of starting redis-server),
 * LOCAL_STACK_DIR (default .local), LOCAL_RANDOM_PORTS=1 (ephemeral ports),
 * LOCAL_REQUIRE_REDIS=1 (fail instead of running without a cache),
 * INTERNAL_API_KEY (the x-api-key to accept; random otherwise),
 * KOFI_VERIFICATION_TOKEN (the token Ko-fi payments must carry; random otherwise),
 * LOCAL_SCHEDULES=off (do not run the schedules, e.g. the reconciler),
 * LOG_LEVEL (handler log level, default WARN), EVENTS_WEBHOOK_URL (POST each
 * entitlement.changed there, signed with EVENTS_WEBHOOK_SECRET, random by default),
 * CATALOGUE_FILE (the catalogue, default entitlements.config.json; validated
 * before anything starts), CATALOGUE_ENVIRONMENT (its Stripe prices: local).
 */
import './log-level';
import { resolve } from 'node:path';
import { REPO_ROOT, startLocalStack, type RunningStack } from './stack';


const flag = (name: string) => ['1', 'true', 'yes'].includes((process.env[name] ?? '').toLowerCase());

function banner(stack: RunningStack, stateFile: string): string {
  const s = stack.state;
  const lines = [
    '',
    `  Entitlements backend: local stack up in ${(s.startupMs / 1000).toFixed(1)} s`,
    '',
    `  API gateway        ${s.gatewayUrl}`,
    `  API docs           ${s.gatewayUrl}/docs  (OpenAPI 3.1: ${s.gatewayUrl}/openapi.json)`,
    `  DynamoDB Local     ${s.dynamodbEndpoint}`,
    `  Redis              ${s.redis.url ?? 'none: running WITHOUT a cache (install redis-server or set REDIS_URL)'}${s.redis.url ? `  (${s.redis.source})` : ''}`,
    `  cognito-local      ${s.cognito.endpoint}  pool ${s.cognito.userPoolId}  client ${s.cognito.clientId}`,
    `  Lambda invoke      ${s.lambdaInvokeUrl}  (Cognito triggers)`,
    ...Object.entries(s.services).map(([name, url]) => `  ${name.padEnd(18)} ${url}`),
    ...Object.entries(s.queues ?? {}).map(([name, url]) => `  ${`${name} queue`.padEnd(18)} ${url}  (delivers to its worker in-process)`),
    ...Object.entries(s.schedules ?? {}).map(([name, expression]) => `  ${name.padEnd(18)} ${expression}  (in-process; npm run admin -- reconcile runs it now)`),
    '',
    `  Events             npm run events  (entitlement.changed${s.events.webhookUrl ? `; signed POSTs to ${s.events.webhookUrl}` : '; set EVENTS_WEBHOOK_URL to receive them'})`,
    `  Catalogue          ${s.handlerEnv.CATALOGUE_FILE}  (Stripe prices of "${s.handlerEnv.CATALOGUE_ENVIRONMENT}"; CATALOGUE_FILE names another)`,
    `  Internal API key   ${s.internalApiKey}`,
    `  Ko-fi webhook      ${s.kofi.webhookUrl}  (npm run kofi -- subscribe <email> sends a payment)`,
    s.demoUser && 'userId' in s.demoUser
      ? `  Demo user          ${s.demoUser.email} / ${s.demoUser.password}  (premium: admin override; npm run admin -- show ${s.demoUser.email})`
      : `  Demo user          not seeded: ${s.demoUser?.error ?? 'unknown error'}`,
    `  Endpoints, ids and secrets: ${stateFile}`,
    '',
    '  Try:',
    `    curl -s ${s.gatewayUrl}/v1/health`,
    `    curl -s ${s.gatewayUrl}/v1/tiers`,
    `    curl -s -X POST ${s.gatewayUrl}/v1/premium/check -H 'x-api-key: ${s.internalApiKey}' -H 'content-type: application/json' -d '{"email":"demo@example.com"}'`,
    '',
    '  Ctrl-C stops everything.',
    '',
  ];
  return lines.join('\n');
}

async function main(): Promise<void> {
  const stateDir = resolve(REPO_ROOT, process.env.LOCAL_STACK_DIR ?? '.local');
  let stack: RunningStack;
  try {
    stack = await startLocalStack({
      stateDir,
      randomPorts: flag('LOCAL_RANDOM_PORTS'),
      requireRedis: flag('LOCAL_REQUIRE_REDIS'),
      redisUrl: process.env.REDIS_URL || undefined,
      internalApiKey: process.env.INTERNAL_API_KEY || undefined,
      kofiVerificationToken: process.env.KOFI_VERIFICATION_TOKEN || undefined,
      logLevel: process.env.LOG_LEVEL,
      schedules: (process.env.LOCAL_SCHEDULES ?? '').toLowerCase() !== 'off',
      eventsWebhookUrl: process.env.EVENTS_WEBHOOK_URL || undefined,
      eventsWebhookSecret: process.env.EVENTS_WEBHOOK_SECRET || undefined,
    });
  } catch (err) {
    process.stderr.write(`\nLocal stack failed to start:\n${(err as Error).message}\n\n`);
    process.exit(1);
  }
  process.stdout.write(`${banner(stack, resolve(stateDir, 'stack.json'))}\n`);

  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    process.stdout.write(`\n${signal}: stopping the local stack...\n`);
    const force = setTimeout(() => process.exit(1), 10_000);
    force.unref();
    stack
      .stop()
      .then(() => {
        process.stdout.write('Stopped.\n');
        process.exit(0);
      })
      .catch((err: unknown) => {
        process.stderr.write(`Error while stopping: ${String(err)}\n`);
        process.exit(1);
      });
  };
  // Started by a test runner: stop with it even when it is killed before its teardown runs.
  const parentPid = Number(process.env.LOCAL_STACK_PARENT_PID);
  if (Number.isInteger(parentPid) && parentPid > 0) {
    setInterval(() => {
      try {
        process.kill(parentPid, 0);
      } catch {
        shutdown('parent process gone');
      }
    }, 1000).unref();
  }
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGHUP', () => shutdown('SIGHUP'));
}

void main();
