#!/usr/bin/env node
/**
 * CDK entry point (`cdk.json`: `npx tsx infra/app.ts`). Context keys, all
 * optional: stage (dev), natGateways (1; 2 in prod), apiThrottleRateLimit (100),
 * apiThrottleBurstLimit (200), publicThrottleRateLimit (20),
 * publicThrottleBurstLimit (40), wafRequestsPerIpPer5Minutes (3000),
 * alarmEmail (none), interfaceEndpoints (false), logRetentionDays (30), cacheNodeType
 * (cache.t4g.micro), appBaseUrl, catalogueEnvironment (the catalogue's Stripe
 * environment: live in prod, test elsewhere). Plans, prices and features come
 * from entitlements.config.json (or CATALOGUE_FILE), validated here: a bad
 * file stops the synth naming the file and the field.
 * Example: `npx cdk deploy --all -c stage=prod`.
 */
import { CatalogueError } from '../shared/config/catalogue';
import { ContextError } from './stacks/app-context';
import { buildApp } from './stacks/build-app';

try {
  buildApp();
} catch (err) {
  // These messages already name the file, the field or the context key; a stack trace would bury them.
  if (err instanceof CatalogueError) process.stderr.write(`\nThe catalogue is invalid; nothing was synthesised:\n${err.message}\n\n`);
  else if (err instanceof ContextError) process.stderr.write(`\nThe CDK context is invalid; nothing was synthesised:\n${err.problems.join('\n')}\n\n`);
  else throw err;
  process.exit(1);
}
