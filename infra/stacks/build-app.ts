import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { FunctionDefinition, FunctionName, RouteDefinition } from '../../shared/routes';
import { readAppSettings, type AppSettings } from './app-context';
import { StatefulStack } from './stateful-stack';
import { StatelessStack } from './stateless-stack';
import { OperationsStack } from './operations-stack';

export interface BuildAppOptions {
  /** CDK context (the CLI passes cdk.json + -c values itself; tests pass them here). */
  readonly context?: Record<string, unknown>;
  /** Manifest overrides for tests; the deployed app always uses shared/routes.ts. */
  readonly functions?: Readonly<Record<FunctionName, FunctionDefinition>>;
  readonly routes?: readonly RouteDefinition[];
  /**
   * Register cdk-nag (default true). Tests switch it off to assert template
   * properties on their own, and check cdk-nag in a separate synth.
   */
  readonly nag?: boolean;
}

export interface EntitlementsApp {
  readonly app: App;
  readonly settings: AppSettings;
  readonly stateful: StatefulStack;
  readonly stateless: StatelessStack;
  readonly operations: OperationsStack;
}

/**
 * Builds the whole CDK app: the stateful stack (network, tables, cache, user
 * pool, secrets), the stateless one (functions and API) that receives it, and
 * the operations stack (alarms, topic, dashboard) that watches both.
 * Stacks are environment-agnostic so `cdk synth` needs no AWS credentials.
 * cdk-nag's AWS Solutions pack runs as a policy-validation plugin on synth;
 * any unacknowledged finding fails it.
 */
export function buildApp(options: BuildAppOptions = {}): EntitlementsApp {
  const app = new App(options.context ? { context: options.context } : {});
  if (options.nag !== false) {
    // Acknowledgements are also written into the templates (cdk_nag metadata) as an audit trail.
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true, writeSuppressionsToCloudFormation: true }));
  }

  const settings = readAppSettings(app.node);
  const prefix = `entitlements-${settings.stage}`;
  const description = `Entitlements backend (${settings.stage})`;

  const stateful = new StatefulStack(app, `${prefix}-stateful`, {
    settings,
    description: `${description}: network, tables, cache, user pool, secrets`,
    terminationProtection: settings.isProd,
  });
  const stateless = new StatelessStack(app, `${prefix}-stateless`, {
    settings,
    stateful,
    description: `${description}: functions and REST API`,
    ...(options.functions ? { functions: options.functions } : {}),
    ...(options.routes ? { routes: options.routes } : {}),
  });
  stateless.addStackDependency(stateful);
  // Last: it watches every function and dead-letter queue the stacks above built.
  const operations = new OperationsStack(app, `${prefix}-operations`, {
    settings,
    stateful,
    stateless,
    description: `${description}: alarms, alarm topic and dashboard`,
  });
  operations.addStackDependency(stateless);

  return { app, settings, stateful, stateless, operations };
}
