import { awsSection, loadConfig, tablesSection } from '../config';
import { perProcess } from './process';

/**
 * The AWS settings and table names, apart from the clients (aws.ts): a
 * function that builds no DynamoDB client (entitlement-events) reads them
 * without requiring the DynamoDB and Secrets Manager SDKs at cold start.
 */
export const awsConfig = perProcess(() => loadConfig({ aws: awsSection }).aws);
export const tables = perProcess(() => loadConfig({ tables: tablesSection }).tables);
