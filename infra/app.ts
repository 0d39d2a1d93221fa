#!/usr/bin/env node
/**
 * CDK entry point (`cdk.json`: `npx tsx infra/app.ts`). Context keys, all
 * optional: stage (dev), natGateways (1; 2 in prod), apiThrottleRateLimit (100),
 * apiThrottleBurstLimit (200), publicThrottleRateLimit (20),
 * publicThrottleBurstLimit (40), wafRequestsPerIpPer5Minutes (3000),
 * alarmEmail (none), interfaceEndpoints (false), logRetentionDays (30), cacheNodeType
 * (cache.t4g.micro), tierBasicMonthlyTokens, tierProMonthlyTokens,
 * tierEnterpriseMonthlyTokens, stripePriceBasic, stripePricePro,
 * stripePriceEnterprise. Example: `npx cdk deploy --all -c stage=prod`.
 */
import { buildApp } from './stacks/build-app';

buildApp();
