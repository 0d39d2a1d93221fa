import * as fs from 'node:fs';
import * as path from 'node:path';
import { CfnResource, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { ContextError, readAppSettings } from '../../infra/stacks/app-context';
import { buildApp, type EntitlementsApp } from '../../infra/stacks/build-app';
import { TABLE_LIST, type TableDefinition } from '../../shared/adapters/dynamodb/tables';
import { COGNITO_TRIGGERS, FUNCTIONS, ROUTES, SCHEDULES, STREAM_CONSUMERS, type FunctionDefinition, type FunctionName, type RouteDefinition } from '../../shared/routes';
import { CREDENTIAL_ACTIONS } from '../../shared/domain/aws-credentials';
import { USER_WRITABLE_ATTRIBUTE_NAMES } from '../../infra/local/cognito';
import { TABLE_STREAM_ACTIONS } from '../../infra/constructs/house-function';
import { pushedCopy } from '../fixtures/catalogue';

// Synthesising bundles every handler with esbuild: allow for a slow machine.
jest.setTimeout(180_000);

type Json = Record<string, any>;

const REPO_ROOT = path.resolve(__dirname, '..', '..');
/** The same context `npx cdk synth` uses (feature flags included). */
const CDK_CONTEXT: Record<string, unknown> = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'cdk.json'), 'utf8')).context;
/** The shipped file has Stripe prices for `local` only; a deploy needs them in its environment, as after `npm run catalogue -- push`. */
const SHIPPED_CATALOGUE = path.join(REPO_ROOT, 'entitlements.config.json');
process.env.CATALOGUE_FILE = pushedCopy(SHIPPED_CATALOGUE, ['test', 'live', 'staging']);

const ACCESS_TOKEN_SCOPE = 'aws.cognito.signin.user.admin';
const FUNCTION_DEFINITIONS: FunctionDefinition[] = Object.values(FUNCTIONS);
const WRITE_ACTIONS = ['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem', 'dynamodb:BatchWriteItem'];
/** A grant of exactly the stream-read actions (a stream consumer's), never item access. */
const isStreamRead = (s: { Action?: unknown }) => {
  const actions = ([] as unknown[]).concat(s.Action ?? []);
  return actions.length > 0 && actions.every((a) => (TABLE_STREAM_ACTIONS as readonly unknown[]).includes(a));
};

/**
 * Routes of every auth kind, served by existing handlers, so the authorizer
 * wiring is asserted even while the manifest has no route of some kind.
 */
const EXTRA_ROUTES: RouteDefinition[] = [
  { method: 'GET', path: '/me/infra-test', handler: 'health', auth: 'cognito', summary: 'infra test: cognito route' },
  { method: 'POST', path: '/me/infra-test', handler: 'tokens-admin', auth: 'cognito', summary: 'infra test: second method on a path' },
  { method: 'PUT', path: '/v1/users/{userId}/infra-test', handler: 'tokens-admin', auth: 'api-key', summary: 'infra test: api-key route' },
  { method: 'POST', path: '/stripe/infra-test', handler: 'health', auth: 'stripe-signature', summary: 'infra test: webhook route' },
];

interface Synthesised {
  built: EntitlementsApp;
  stateful: Template;
  stateless: Template;
  operations: Template;
}

/**
 * Property assertions run without the cdk-nag plugin, so each fails on its
 * own (e.g. encryption off) instead of all failing on the nag report.
 */
function synthesise(options: Parameters<typeof buildApp>[0]): Synthesised {
  const built = buildApp({ ...options, nag: false });
  return { built, stateful: Template.fromStack(built.stateful), stateless: Template.fromStack(built.stateless), operations: Template.fromStack(built.operations) };
}

/** Synthesises the app exactly as the CLI does (cdk-nag on) and lists what it reports. */
function nagFindings(options: Parameters<typeof buildApp>[0]): { built: EntitlementsApp; findings: string[]; synthError: string | undefined } {
  const built = buildApp(options);
  let synthError: string | undefined;
  try {
    // The plugin fails the synth on any unacknowledged error or warning.
    built.app.synth();
  } catch (err) {
    synthError = (err as Error).message;
  }
  const report = new AwsSolutionsChecks().validateScope(built.app);
  const findings = report.violations.flatMap((v) => v.violatingResources.map((r) => `${v.severity} ${v.ruleName} ${r.constructPath}`));
  return { built, findings, synthError };
}

function logicalId(construct: IConstruct): string {
  const resource = construct instanceof CfnResource ? construct : construct.node.defaultChild;
  if (!(resource instanceof CfnResource)) throw new Error(`${construct.node.path} has no CloudFormation resource`);
  return Stack.of(resource).getLogicalId(resource);
}

function resourcesOf(template: Template, type: string): Record<string, Json> {
  return template.findResources(type) as Record<string, Json>;
}

/** `GET /v1/health` -> Method resource, rebuilt from the Resource tree. */
function methodsByRoute(template: Template): Map<string, Json> {
  const resources = resourcesOf(template, 'AWS::ApiGateway::Resource');
  const pathOf = (ref: Json): string => {
    if (!ref || typeof ref !== 'object' || !('Ref' in ref)) return ''; // the root resource (Fn::GetAtt RootResourceId)
    const resource = resources[ref.Ref as string];
    if (!resource) throw new Error(`unknown API resource ${JSON.stringify(ref)}`);
    return `${pathOf(resource.Properties.ParentId)}/${resource.Properties.PathPart}`;
  };
  const methods = new Map<string, Json>();
  for (const method of Object.values(resourcesOf(template, 'AWS::ApiGateway::Method'))) {
    methods.set(`${method.Properties.HttpMethod} ${pathOf(method.Properties.ResourceId) || '/'}`, method);
  }
  return methods;
}

function allPolicyStatements(...templates: Template[]): Json[] {
  const statements: Json[] = [];
  for (const template of templates) {
    for (const policy of Object.values(resourcesOf(template, 'AWS::IAM::Policy'))) statements.push(...policy.Properties.PolicyDocument.Statement);
    for (const policy of Object.values(resourcesOf(template, 'AWS::IAM::ManagedPolicy'))) statements.push(...policy.Properties.PolicyDocument.Statement);
    for (const role of Object.values(resourcesOf(template, 'AWS::IAM::Role'))) {
      for (const inline of role.Properties.Policies ?? []) statements.push(...inline.PolicyDocument.Statement);
    }
  }
  return statements;
}

const asArray = <T>(value: T | T[]): T[] => (Array.isArray(value) ? value : [value]);

/** Statements of the function's own (default) policy. */
function statementsOf(template: Template, roleLogicalId: string): Json[] {
  return Object.values(resourcesOf(template, 'AWS::IAM::Policy'))
    .filter((policy) => asArray(policy.Properties.Roles).some((role: Json) => role.Ref === roleLogicalId))
    .flatMap((policy) => policy.Properties.PolicyDocument.Statement as Json[]);
}

function expectRoutesWired(synth: Synthesised, routes: readonly RouteDefinition[]): void {
  const methods = methodsByRoute(synth.stateless);
  const authorizers = resourcesOf(synth.stateless, 'AWS::ApiGateway::Authorizer');
  for (const route of routes) {
    const key = `${route.method} ${route.path}`;
    const method = methods.get(key);
    expect({ route: key, found: method !== undefined }).toEqual({ route: key, found: true });
    const props = method!.Properties;
    const fn = synth.built.stateless.functions[route.handler]!;
    expect(props.Integration.Type).toBe('AWS_PROXY');
    expect(JSON.stringify(props.Integration.Uri)).toContain(logicalId(fn.function));
    if (route.auth === 'cognito') {
      expect({ route: key, type: props.AuthorizationType, scopes: props.AuthorizationScopes }).toEqual({
        route: key,
        type: 'COGNITO_USER_POOLS',
        scopes: [ACCESS_TOKEN_SCOPE],
      });
      const authorizer = authorizers[props.AuthorizerId?.Ref as string];
      expect(authorizer?.Properties).toEqual(
        expect.objectContaining({
          Type: 'COGNITO_USER_POOLS',
          IdentitySource: 'method.request.header.Authorization',
          ProviderARNs: [expect.objectContaining({ 'Fn::ImportValue': expect.stringContaining(logicalId(synth.built.stateful.userPool)) })],
        }),
      );
    } else {
      expect({ route: key, type: props.AuthorizationType, authorizer: props.AuthorizerId }).toEqual({
        route: key,
        type: 'NONE',
        authorizer: undefined,
      });
    }
  }

  // Every routed path answers other methods with the contract's 405, without a Lambda.
  for (const routePath of new Set(routes.map((r) => r.path))) {
    const any = methods.get(`ANY ${routePath}`);
    expect({ path: routePath, found: any !== undefined }).toEqual({ path: routePath, found: true });
    const integration = any!.Properties.Integration;
    expect(integration.Type).toBe('MOCK');
    expect(integration.RequestTemplates).toEqual(expect.objectContaining({ 'application/json': '{"statusCode": 405}' }));
    expect(integration.PassthroughBehavior).toBe('NEVER');
    expect(integration.IntegrationResponses).toEqual([
      expect.objectContaining({
        StatusCode: '405',
        ResponseTemplates: { 'application/json': '{"error":{"code":"method_not_allowed","message":"Method not allowed on this path"}}' },
        ResponseParameters: {
          'method.response.header.Allow': `'${routes.filter((r) => r.path === routePath).map((r) => r.method).join(', ')}'`,
        },
      }),
    ]);
    expect(any!.Properties.MethodResponses).toEqual([expect.objectContaining({ StatusCode: '405' })]);
  }

  // Nothing but the manifest: one method per route plus one ANY per path.
  expect(methods.size).toBe(routes.length + new Set(routes.map((r) => r.path)).size);
}

describe('entitlements CDK app (dev, from cdk.json context)', () => {
  let synth: Synthesised;

  beforeAll(() => {
    synth = synthesise({ context: CDK_CONTEXT });
  }, 180_000);

  describe('functions', () => {
    /** A function and the template it is in: triggers are in the stateful stack. */
    const houseFunction = (name: FunctionName) => {
      const trigger = synth.built.stateful.triggerFunctions[name];
      if (trigger) return { fn: trigger, template: synth.stateful };
      return { fn: synth.built.stateless.functions[name]!, template: synth.stateless };
    };

    it('creates one Node.js 22 arm64 function per FUNCTIONS entry, with the house defaults', () => {
      const houseFunctions = [synth.stateless, synth.stateful].flatMap((t) =>
        Object.values(resourcesOf(t, 'AWS::Lambda::Function')).filter((fn) => fn.Properties.Environment?.Variables?.POWERTOOLS_SERVICE_NAME === 'entitlements'),
      );
      expect(houseFunctions).toHaveLength(Object.keys(FUNCTIONS).length);
      // Cognito triggers live beside the user pool; everything else in the stateless stack.
      const triggers = Object.values(COGNITO_TRIGGERS);
      expect(Object.keys(synth.built.stateful.triggerFunctions).sort()).toEqual([...triggers].sort());

      for (const def of FUNCTION_DEFINITIONS) {
        const { fn, template } = houseFunction(def.name);
        const props = template.toJSON().Resources[logicalId(fn.function)].Properties;
        expect({ name: def.name, runtime: props.Runtime, arch: props.Architectures, handler: props.Handler }).toEqual({
          name: def.name,
          runtime: 'nodejs22.x',
          arch: ['arm64'],
          handler: 'index.handler',
        });
        expect(props.MemorySize).toBe(def.memorySize ?? 256);
        expect(props.Timeout).toBe(def.timeoutSeconds ?? 10);
        expect(props.Description).toBe(def.description);
        expect(props.LoggingConfig.LogGroup).toEqual({ Ref: logicalId(fn.logGroup) });
        expect(props.VpcConfig.SubnetIds).toHaveLength(2);
        expect(props.Environment.Variables).toEqual(
          expect.objectContaining({
            POWERTOOLS_SERVICE_NAME: 'entitlements',
            LOG_LEVEL: 'INFO',
          }),
        );
        // No --enable-source-maps (parsed on every cold start): the bundle maps its stack traces on the first one (shared/observability/stack-traces.ts).
        expect(props.Environment.Variables.NODE_OPTIONS).toBeUndefined();
        // /me handlers check the token's app client; the trigger needs no pool ids.
        if (!triggers.includes(def.name)) expect(props.Environment.Variables).toEqual(expect.objectContaining({ COGNITO_USER_POOL_ID: expect.anything(), COGNITO_CLIENT_IDS: expect.anything() }));
      }
    });

    it('gives every function an explicit log group with the context retention', () => {
      for (const def of FUNCTION_DEFINITIONS) {
        const { fn, template } = houseFunction(def.name);
        expect(template.toJSON().Resources[logicalId(fn.logGroup)].Properties.RetentionInDays).toBe(CDK_CONTEXT.logRetentionDays);
      }
    });

    it('sets every TABLE_* variable on every function but grants only the access FUNCTIONS declares', () => {
      for (const def of FUNCTION_DEFINITIONS) {
        const { fn, template } = houseFunction(def.name);
        const resources = template.toJSON().Resources;
        const variables = resources[logicalId(fn.function)].Properties.Environment.Variables;
        const roleId = logicalId(fn.function.role!);
        const statements = statementsOf(template, roleId);

        for (const table of TABLE_LIST) {
          const tableId = logicalId(synth.built.stateful.tables[table.id]);
          expect(JSON.stringify(variables[table.envVar])).toContain(tableId);

          const onTable = statements.filter((s) => JSON.stringify(s.Resource).includes(tableId) && !isStreamRead(s));
          // Only the table's stream consumer reads its stream, and that grant holds no item action.
          expect(statements.some((s) => isStreamRead(s) && JSON.stringify(s.Resource).includes(tableId))).toBe(STREAM_CONSUMERS[table.id] === def.name);
          const access = def.tables[table.id];
          const actions = onTable.flatMap((s) => asArray(s.Action as string | string[]));
          if (!access) {
            expect({ fn: def.name, table: table.id, actions }).toEqual({ fn: def.name, table: table.id, actions: [] });
            continue;
          }
          expect(actions).toEqual(expect.arrayContaining(['dynamodb:GetItem', 'dynamodb:Query']));
          // The identity sweep pages through the users table; nothing else ever scans.
          if (!(def.identitySweep && table.id === 'users')) expect(actions).not.toContain('dynamodb:Scan');
          if (access === 'read') expect(actions.filter((a) => WRITE_ACTIONS.includes(a))).toEqual([]);
          else if (access === 'readWrite') expect(actions).toEqual(expect.arrayContaining(WRITE_ACTIONS));
          else {
            const granted = actions.filter((a) => WRITE_ACTIONS.includes(a)).sort();
            const declared = access.write.map((w) => ({ put: 'dynamodb:PutItem', update: 'dynamodb:UpdateItem', delete: 'dynamodb:DeleteItem' })[w]).sort();
            expect({ fn: def.name, table: table.id, granted }).toEqual({ fn: def.name, table: table.id, granted: declared });
          }
          // Indexes are granted by name, never as index/*.
          const resourcesJson = JSON.stringify(onTable.map((s) => s.Resource));
          expect(resourcesJson).not.toContain('/index/*');
          for (const index of table.globalSecondaryIndexes) expect(resourcesJson).toContain(`/index/${index.indexName}`);
        }
      }
    });

    it('connects exactly the redis functions to the cache, over TLS, with the AUTH secret', () => {
      for (const def of FUNCTION_DEFINITIONS) {
        const { fn, template } = houseFunction(def.name);
        const props = template.toJSON().Resources[logicalId(fn.function)].Properties;
        const variables = props.Environment.Variables;
        const securityGroups = JSON.stringify(props.VpcConfig.SecurityGroupIds);
        const clientGroup = logicalId(synth.built.stateful.cacheClientSecurityGroup);
        const statements = JSON.stringify(statementsOf(template, logicalId(fn.function.role!)));
        const authSecret = logicalId(synth.built.stateful.redisAuthSecret);
        if (def.redis) {
          expect(variables.REDIS_URL['Fn::Join'][1][0]).toBe('rediss://');
          // A cross-stack import in the stateless stack, a GetAtt for the trigger beside the cache.
          expect(JSON.stringify(variables.REDIS_URL)).toMatch(/PrimaryEndPoint\.?Address/);
          expect(JSON.stringify(variables.REDIS_AUTH_SECRET_ARN)).toContain(authSecret);
          expect(securityGroups).toContain(clientGroup);
          expect(statements).toContain(authSecret);
        } else {
          expect(variables.REDIS_URL).toBeUndefined();
          expect(securityGroups).not.toContain(clientGroup);
          expect(statements).not.toContain(authSecret);
        }
        const internalKeys = logicalId(synth.built.stateful.internalApiKeysSecret);
        if (def.internalApiKeys) {
          expect(JSON.stringify(variables.INTERNAL_API_KEYS_SECRET_ARN)).toContain(internalKeys);
          expect(statements).toContain(internalKeys);
        } else {
          expect(variables.INTERNAL_API_KEYS_SECRET_ARN).toBeUndefined();
          expect(statements).not.toContain(internalKeys);
        }
        const stripe = def.stripe === true;
        expect(variables.STRIPE_SECRET_ARN !== undefined).toBe(stripe);
        // Only the Ko-fi webhook reads the Ko-fi token.
        const kofiSecret = logicalId(synth.built.stateful.kofiSecret);
        expect(variables.KOFI_SECRET_ARN !== undefined).toBe(def.kofi === true);
        if (def.kofi) expect(statements).toContain(kofiSecret);
        else expect(statements).not.toContain(kofiSecret);
      }
    });
  });

  describe('Cognito wiring', () => {
    it('runs the post-confirmation function as the user pool trigger', () => {
      const trigger = synth.built.stateful.triggerFunctions['post-confirmation']!;
      synth.stateful.hasResourceProperties('AWS::Cognito::UserPool', {
        LambdaConfig: { PostConfirmation: { 'Fn::GetAtt': [logicalId(trigger.function), 'Arn'] } },
      });
    });

    it('lets only account deletion delete Cognito users, and only in this pool', () => {
      for (const def of FUNCTION_DEFINITIONS) {
        const trigger = synth.built.stateful.triggerFunctions[def.name];
        const fn = trigger ?? synth.built.stateless.functions[def.name]!;
        const statements = statementsOf(trigger ? synth.stateful : synth.stateless, logicalId(fn.function.role!));
        const deleting = statements.filter((st) => asArray(st.Action as string | string[]).includes('cognito-idp:AdminDeleteUser'));
        if (def.cognitoAdmin) {
          expect(deleting).toHaveLength(1);
          expect(JSON.stringify(deleting[0]!.Resource)).toContain(logicalId(synth.built.stateful.userPool));
        } else {
          expect({ fn: def.name, deleting }).toEqual({ fn: def.name, deleting: [] });
        }
      }
    });

    it('keeps the verified email until a new address is verified (keepOriginal)', () => {
      synth.stateful.hasResourceProperties('AWS::Cognito::UserPool', {
        UserAttributeUpdateSettings: { AttributesRequireVerificationBeforeUpdate: ['email'] },
      });
    });

    it("gives the app client no write access to email: a user's token cannot change it, only POST /me/email can", () => {
      const clients = Object.values(resourcesOf(synth.stateful, 'AWS::Cognito::UserPoolClient'));
      expect(clients).toHaveLength(1);
      const writable = clients[0]!.Properties.WriteAttributes as string[];
      expect(writable).toEqual(expect.arrayContaining(['name']));
      for (const identityAttribute of ['email', 'email_verified', 'phone_number', 'phone_number_verified']) expect(writable).not.toContain(identityAttribute);
      // The local stack's app client (cognito-local) is created with the same list.
      expect([...writable].sort()).toEqual([...USER_WRITABLE_ATTRIBUTE_NAMES].sort());
    });

    it('lets only the email functions (and the identity sweep) read users, only account-email start email changes, and only in this pool', () => {
      for (const def of FUNCTION_DEFINITIONS) {
        const trigger = synth.built.stateful.triggerFunctions[def.name];
        const fn = trigger ?? synth.built.stateless.functions[def.name]!;
        const statements = statementsOf(trigger ? synth.stateful : synth.stateless, logicalId(fn.function.role!));
        const actions = (action: string) => statements.filter((st) => asArray(st.Action as string | string[]).includes(action));
        const reading = actions('cognito-idp:AdminGetUser');
        const updating = actions('cognito-idp:AdminUpdateUserAttributes');
        // The identity sweep reads users too (see 'account deletion').
        if (def.cognitoEmail || def.identitySweep) {
          expect({ fn: def.name, reading: reading.length }).toEqual({ fn: def.name, reading: 1 });
          expect(JSON.stringify(reading[0]!.Resource)).toContain(logicalId(synth.built.stateful.userPool));
        } else {
          expect({ fn: def.name, reading }).toEqual({ fn: def.name, reading: [] });
        }
        // Only the route that starts a change may write attributes; the trigger only reads.
        expect({ fn: def.name, updating: updating.length }).toEqual({ fn: def.name, updating: def.name === 'account-email' ? 1 : 0 });
      }
    });
  });

  describe('entitlement.changed', () => {
    it('streams the entitlements table (both images) into the publisher, with bisect, retries, partial batches and a DLQ', () => {
      const table = logicalId(synth.built.stateful.tables.entitlements);
      expect(synth.stateful.toJSON().Resources[table].Properties.StreamSpecification).toEqual({ StreamViewType: 'NEW_AND_OLD_IMAGES' });
      const publisher = logicalId(synth.built.stateless.functions['entitlement-events']!.function);
      const dlq = logicalId(synth.built.stateless.streamDeadLetters.entitlements!);
      expect(dlq).toMatch(/DeadLetterQueue/);
      synth.stateless.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
        FunctionName: { Ref: publisher },
        StartingPosition: 'TRIM_HORIZON',
        BisectBatchOnFunctionError: true,
        MaximumRetryAttempts: 10,
        FunctionResponseTypes: ['ReportBatchItemFailures'],
        DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': [dlq, 'Arn'] } } },
      });
    });

    it('puts events on the bus the stateful stack owns, and only there', () => {
      synth.stateful.resourceCountIs('AWS::Events::EventBus', 1);
      const bus = logicalId(synth.built.stateful.eventBus);
      const publisher = synth.built.stateless.functions['entitlement-events']!;
      const statements = statementsOf(synth.stateless, logicalId(publisher.function.role!));
      const puts = statements.filter((st) => asArray(st.Action as string | string[]).includes('events:PutEvents'));
      expect(puts).toHaveLength(1);
      expect(JSON.stringify(puts[0]!.Resource)).toContain(bus);
      for (const def of FUNCTION_DEFINITIONS.filter((d) => !d.eventBus && !(Object.values(COGNITO_TRIGGERS) as string[]).includes(d.name))) {
        const fn = synth.built.stateless.functions[def.name]!;
        expect(statementsOf(synth.stateless, logicalId(fn.function.role!)).some((st) => asArray(st.Action as string | string[]).includes('events:PutEvents'))).toBe(false);
      }
    });
  });

  describe('account deletion', () => {
    const queueId = () => logicalId(synth.built.stateless.deletionQueue!);
    const dlqId = () => logicalId(synth.built.stateless.deletionDeadLetters!);

    it('drives the deletion worker from an encrypted, TLS-only queue with a DLQ after 5 receives', () => {
      const queue = synth.stateless.toJSON().Resources[queueId()];
      expect(queue.Properties).toMatchObject({
        SqsManagedSseEnabled: true,
        RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': [dlqId(), 'Arn'] }, maxReceiveCount: 5 },
        VisibilityTimeout: 6 * FUNCTIONS['deletion-worker'].timeoutSeconds!,
      });
      const worker = logicalId(synth.built.stateless.functions['deletion-worker']!.function);
      synth.stateless.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
        FunctionName: { Ref: worker },
        EventSourceArn: { 'Fn::GetAtt': [queueId(), 'Arn'] },
        BatchSize: 1,
        FunctionResponseTypes: ['ReportBatchItemFailures'],
      });
      const mappings = Object.values(synth.stateless.findResources('AWS::Lambda::EventSourceMapping'));
      const onQueue = mappings.filter((m) => JSON.stringify(m.Properties.EventSourceArn) === JSON.stringify({ 'Fn::GetAtt': [queueId(), 'Arn'] }));
      expect(onQueue).toHaveLength(1);
      // SQS's poller ignores reserved concurrency: capped to it, or throttled messages would reach the DLQ.
      expect(onQueue[0]!.Properties.ScalingConfig).toEqual({ MaximumConcurrency: Math.max(2, FUNCTIONS['deletion-worker'].reservedConcurrency!) });
      // The alarm is in the operations stack, beside the topic it pages: the queue name arrives as an import.
      synth.operations.hasResourceProperties('AWS::CloudWatch::Alarm', {
        Threshold: 0,
        Dimensions: [{ Name: 'QueueName', Value: { 'Fn::ImportValue': Match.stringLikeRegexp(`${dlqId()}QueueName`) } }],
      });
    });

    it('grants queue access per FUNCTIONS: send for deletion, consume only for the worker, none elsewhere', () => {
      for (const def of FUNCTION_DEFINITIONS) {
        const trigger = synth.built.stateful.triggerFunctions[def.name];
        const fn = trigger ?? synth.built.stateless.functions[def.name]!;
        const statements = statementsOf(trigger ? synth.stateful : synth.stateless, logicalId(fn.function.role!));
        const onQueue = statements.filter((st) => JSON.stringify(st.Resource).includes(queueId()));
        const actions = onQueue.flatMap((st) => asArray(st.Action as string | string[]));
        if (!def.deletionQueue) expect({ fn: def.name, actions }).toEqual({ fn: def.name, actions: [] });
        else expect(actions).toContain('sqs:SendMessage');
        if (def.deletionQueue !== 'consume') expect(actions).not.toContain('sqs:ReceiveMessage');
        const sweeping = statements.filter((st) => asArray(st.Action as string | string[]).includes('cognito-idp:AdminGetUser'));
        // The email functions read users too (their own statement; see 'Cognito wiring').
        expect({ fn: def.name, sweeping: sweeping.length }).toEqual({ fn: def.name, sweeping: def.identitySweep || def.cognitoEmail ? 1 : 0 });
      }
    });

    it('puts every Cognito DeleteUser call seen by CloudTrail on the queue', () => {
      synth.stateless.hasResourceProperties('AWS::Events::Rule', {
        EventPattern: {
          source: ['aws.cognito-idp'],
          'detail-type': ['AWS API Call via CloudTrail'],
          detail: { eventSource: ['cognito-idp.amazonaws.com'], eventName: ['DeleteUser'] },
        },
        Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': [queueId(), 'Arn'] } })],
      });
    });
  });

  describe('reconciliation', () => {
    it('invokes the reconciler on each schedule of SCHEDULES, with its pass and the expression from context, failures to a dead-letter queue', () => {
      const reconciler = synth.built.stateless.functions.reconciler!.function;
      const schedules = Object.values(resourcesOf(synth.stateless, 'AWS::Scheduler::Schedule'));
      expect(schedules).toHaveLength(Object.keys(SCHEDULES).length);
      for (const schedule of Object.values(SCHEDULES)) {
        const found = schedules.find((r) => r.Properties.ScheduleExpression === CDK_CONTEXT[schedule.contextKey]);
        expect({ schedule: schedule.contextKey, found: Boolean(found) }).toEqual({ schedule: schedule.contextKey, found: true });
        expect(found!.Properties).toMatchObject({
          State: 'ENABLED',
          Target: {
            Arn: { 'Fn::GetAtt': [logicalId(reconciler), 'Arn'] },
            Input: JSON.stringify(schedule.input),
            DeadLetterConfig: { Arn: { 'Fn::ImportValue': expect.stringContaining('ScheduleDeadLetterQueue') } },
            RetryPolicy: { MaximumRetryAttempts: 2 },
          },
        });
      }
      const dlq = synth.built.stateful.scheduleDeadLetterQueue;
      expect(dlq.node.id.endsWith('DeadLetterQueue')).toBe(true);
      synth.stateful.hasResourceProperties('AWS::SQS::Queue', { SqsManagedSseEnabled: true, MessageRetentionPeriod: 14 * 24 * 3600 });
    });
  });

  describe('API', () => {
    it('has one method per ROUTES entry with the route\'s authorizer, and a 405 mock per path', () => {
      expectRoutesWired(synth, ROUTES);
      if (!ROUTES.some((r) => r.auth === 'cognito')) synth.stateless.resourceCountIs('AWS::ApiGateway::Authorizer', 0);
    });

    it('answers gateway-generated errors with the contract\'s JSON error body', () => {
      const responses = Object.values(resourcesOf(synth.stateless, 'AWS::ApiGateway::GatewayResponse'));
      const byType = new Map(responses.map((r) => [r.Properties.ResponseType as string, r.Properties]));
      const expected: Array<[string, string | undefined, string]> = [
        ['UNAUTHORIZED', '401', 'unauthorized'],
        ['ACCESS_DENIED', '403', 'forbidden'],
        ['MISSING_AUTHENTICATION_TOKEN', '404', 'not_found'],
        ['THROTTLED', '429', 'rate_limited'],
        ['REQUEST_TOO_LARGE', '413', 'payload_too_large'],
        ['BAD_REQUEST_BODY', '400', 'validation_failed'],
        ['DEFAULT_4XX', undefined, 'bad_request'],
        ['DEFAULT_5XX', undefined, 'internal_error'],
      ];
      for (const [type, status, code] of expected) {
        const response = byType.get(type);
        expect({ type, status: response?.StatusCode }).toEqual({ type, status });
        const body = JSON.parse(response!.ResponseTemplates['application/json']);
        expect(body).toEqual({ error: { code, message: expect.any(String) } });
        expect(body.error.message).not.toContain('$context');
      }
      expect(JSON.parse(byType.get('MISSING_AUTHENTICATION_TOKEN')!.ResponseTemplates['application/json']).error.message).toBe(
        'No route for this method and path',
      );
      expect(byType.get('THROTTLED')!.ResponseParameters).toEqual({ 'gatewayresponse.header.Retry-After': "'1'" });
    });

    it('throttles, logs access as JSON and never logs bodies', () => {
      const stages = Object.values(resourcesOf(synth.stateless, 'AWS::ApiGateway::Stage'));
      expect(stages).toHaveLength(1);
      const stage = stages[0]!.Properties;
      expect(stage.StageName).toBe(CDK_CONTEXT.stage);
      // The stage default, then one lower limit per public route (a flood there cannot spend the backends' budget).
      const publicRoutes = ROUTES.filter((r) => r.auth === 'none' || r.auth === 'stripe-signature' || r.auth === 'kofi-token');
      expect(publicRoutes.length).toBeGreaterThan(0);
      expect(stage.MethodSettings).toEqual([
        expect.objectContaining({
          HttpMethod: '*',
          ResourcePath: '/*',
          ThrottlingRateLimit: CDK_CONTEXT.apiThrottleRateLimit,
          ThrottlingBurstLimit: CDK_CONTEXT.apiThrottleBurstLimit,
          MetricsEnabled: true,
          LoggingLevel: 'ERROR',
          DataTraceEnabled: false,
        }),
        ...publicRoutes.map((route) =>
          expect.objectContaining({
            HttpMethod: route.method,
            ResourcePath: `/${route.path.replace(/\//g, '~1')}`,
            ThrottlingRateLimit: CDK_CONTEXT.publicThrottleRateLimit,
            ThrottlingBurstLimit: CDK_CONTEXT.publicThrottleBurstLimit,
            // A method's settings replace the stage default: metrics and logging stay as on every other route.
            MetricsEnabled: true,
            LoggingLevel: 'ERROR',
            DataTraceEnabled: false,
          }),
        ),
      ]);
      expect(CDK_CONTEXT.publicThrottleRateLimit as number).toBeLessThan(CDK_CONTEXT.apiThrottleRateLimit as number);
      expect(stage.AccessLogSetting.DestinationArn).toEqual({ 'Fn::GetAtt': [logicalId(synth.built.stateless.accessLogGroup), 'Arn'] });
      expect(JSON.parse(stage.AccessLogSetting.Format)).toEqual(expect.objectContaining({ requestId: '$context.requestId', status: '$context.status' }));
    });
  });

  describe('tables', () => {
    const keySchema = (def: TableDefinition | TableDefinition['globalSecondaryIndexes'][number]): Json[] => [
      { AttributeName: def.partitionKey.name, KeyType: 'HASH' },
      ...(def.sortKey ? [{ AttributeName: def.sortKey.name, KeyType: 'RANGE' }] : []),
    ];

    it.each(TABLE_LIST.map((def) => [def.id, def] as const))('%s matches its definition, on demand, encrypted, with PITR', (_id, def) => {
      const table = synth.stateful.toJSON().Resources[logicalId(synth.built.stateful.tables[def.id])];
      const props = table.Properties;
      expect(props.KeySchema).toEqual(keySchema(def));
      expect(props.BillingMode).toBe('PAY_PER_REQUEST');
      expect(props.PointInTimeRecoverySpecification).toEqual({ PointInTimeRecoveryEnabled: true });
      expect(props.SSESpecification).toEqual({ SSEEnabled: true });
      if (def.timeToLiveAttribute) expect(props.TimeToLiveSpecification).toEqual({ AttributeName: def.timeToLiveAttribute, Enabled: true });
      else expect(props.TimeToLiveSpecification).toBeUndefined();

      const attributes = [def.partitionKey, def.sortKey, ...def.globalSecondaryIndexes.flatMap((i) => [i.partitionKey, i.sortKey])].filter(
        (k): k is NonNullable<typeof k> => k !== undefined,
      );
      expect(props.AttributeDefinitions).toEqual(
        expect.arrayContaining(attributes.map((k) => ({ AttributeName: k.name, AttributeType: k.type }))),
      );
      expect(props.GlobalSecondaryIndexes ?? []).toEqual(
        def.globalSecondaryIndexes.map((index) => ({ IndexName: index.indexName, KeySchema: keySchema(index), Projection: { ProjectionType: 'ALL' } })),
      );
      // dev: disposable
      expect(table.DeletionPolicy).toBe('Delete');
      expect(props.DeletionProtectionEnabled).toBe(false);
    });

    it('has exactly the tables of TABLE_LIST', () => {
      synth.stateful.resourceCountIs('AWS::DynamoDB::Table', TABLE_LIST.length);
    });
  });

  describe('cache', () => {
    it('is a Multi-AZ replication group with TLS, encryption at rest and an AUTH token from Secrets Manager', () => {
      const groups = Object.values(resourcesOf(synth.stateful, 'AWS::ElastiCache::ReplicationGroup'));
      expect(groups).toHaveLength(1);
      const props = groups[0]!.Properties;
      expect(props).toEqual(
        expect.objectContaining({
          TransitEncryptionEnabled: true,
          AtRestEncryptionEnabled: true,
          MultiAZEnabled: true,
          AutomaticFailoverEnabled: true,
          NumCacheClusters: 2,
          Port: 6379,
          CacheSubnetGroupName: expect.anything(),
        }),
      );
      expect(['redis', 'valkey']).toContain(props.Engine);
      const authToken = JSON.stringify(props.AuthToken);
      expect(authToken).toContain('{{resolve:secretsmanager:');
      expect(authToken).toContain(logicalId(synth.built.stateful.redisAuthSecret));
      expect(props.SecurityGroupIds).toEqual([{ 'Fn::GetAtt': [logicalId(synth.built.stateful.cacheSecurityGroup), 'GroupId'] }]);
    });

    it('accepts the cache port only from the client security group', () => {
      const ingress = Object.values(resourcesOf(synth.stateful, 'AWS::EC2::SecurityGroupIngress')).filter(
        (rule) => JSON.stringify(rule.Properties.GroupId).includes(logicalId(synth.built.stateful.cacheSecurityGroup)),
      );
      expect(ingress.map((rule) => rule.Properties)).toEqual([
        expect.objectContaining({
          IpProtocol: 'tcp',
          FromPort: 6379,
          ToPort: 6379,
          SourceSecurityGroupId: { 'Fn::GetAtt': [logicalId(synth.built.stateful.cacheClientSecurityGroup), 'GroupId'] },
        }),
      ]);
      const cacheGroup = synth.stateful.toJSON().Resources[logicalId(synth.built.stateful.cacheSecurityGroup)].Properties;
      expect(cacheGroup.SecurityGroupIngress).toBeUndefined();
    });

    it('generates a token ElastiCache accepts (no punctuation, 16-128 characters)', () => {
      const secret = synth.stateful.toJSON().Resources[logicalId(synth.built.stateful.redisAuthSecret)].Properties;
      expect(secret.GenerateSecretString.ExcludePunctuation).toBe(true);
      expect(secret.GenerateSecretString.PasswordLength).toBeGreaterThanOrEqual(16);
      expect(secret.GenerateSecretString.PasswordLength).toBeLessThanOrEqual(128);
    });
  });

  describe('network', () => {
    it('spans two AZs with NAT from context, a DynamoDB gateway endpoint and flow logs', () => {
      synth.stateful.resourceCountIs('AWS::EC2::Subnet', 4);
      synth.stateful.resourceCountIs('AWS::EC2::NatGateway', CDK_CONTEXT.natGateways as number);
      synth.stateful.hasResourceProperties('AWS::EC2::VPCEndpoint', {
        VpcEndpointType: 'Gateway',
        ServiceName: Match.objectLike({ 'Fn::Join': Match.arrayWith([Match.arrayWith(['.dynamodb'])]) }),
      });
      synth.stateful.hasResourceProperties('AWS::EC2::FlowLog', { ResourceType: 'VPC', TrafficType: 'ALL' });
    });
  });

  describe('identity and secrets', () => {
    it('lets users sign up with email and a strong password, recovering by email only', () => {
      synth.stateful.hasResourceProperties('AWS::Cognito::UserPool', {
        AdminCreateUserConfig: { AllowAdminCreateUserOnly: false },
        UsernameAttributes: ['email'],
        AutoVerifiedAttributes: ['email'],
        Policies: {
          PasswordPolicy: Match.objectLike({
            MinimumLength: 12,
            RequireLowercase: true,
            RequireUppercase: true,
            RequireNumbers: true,
            RequireSymbols: true,
          }),
        },
        AccountRecoverySetting: { RecoveryMechanisms: [{ Name: 'verified_email', Priority: 1 }] },
      });
    });

    it('has a public app client for password/SRP sign-in with one-hour access tokens', () => {
      synth.stateful.hasResourceProperties('AWS::Cognito::UserPoolClient', {
        GenerateSecret: false,
        ExplicitAuthFlows: Match.arrayEquals(['ALLOW_USER_PASSWORD_AUTH', 'ALLOW_USER_SRP_AUTH', 'ALLOW_REFRESH_TOKEN_AUTH']),
        AccessTokenValidity: 60,
        TokenValidityUnits: Match.objectLike({ AccessToken: 'minutes' }),
        AllowedOAuthFlowsUserPoolClient: false,
      });
    });

    it('keeps Stripe keys as JSON for ops to fill in, with a generated webhook secret (never a known value that would let anyone sign events)', () => {
      const secret = synth.stateful.toJSON().Resources[logicalId(synth.built.stateful.stripeSecret)].Properties;
      expect(secret.SecretString).toBeUndefined();
      expect(secret.GenerateSecretString).toMatchObject({ GenerateStringKey: 'webhookSecret', PasswordLength: 48 });
      expect(Object.keys(JSON.parse(secret.GenerateSecretString.SecretStringTemplate))).toEqual(['secretKey']);
    });
  });

  describe('IAM', () => {
    /** The one documented exception: Transcribe streaming has no resource-level permissions (IAM needs "*"). */
    const isSpeechToTextGrant = (statement: Json) =>
      JSON.stringify([...asArray(statement.Action as string | string[])].sort()) === JSON.stringify([...CREDENTIAL_ACTIONS].sort());

    it('has no wildcard actions and no wildcard resources anywhere', () => {
      const statements = allPolicyStatements(synth.stateful, synth.stateless);
      expect(statements.length).toBeGreaterThan(0);
      for (const statement of statements) {
        for (const action of asArray(statement.Action as string | string[])) {
          expect(action === '*' || /^[a-z0-9-]+:\*$/i.test(action) ? action : 'ok').toBe('ok');
        }
        if (isSpeechToTextGrant(statement)) continue;
        for (const resource of asArray(statement.Resource)) expect(resource).not.toBe('*');
      }
      expect(statements.filter(isSpeechToTextGrant)).toHaveLength(1);
    });

    describe('subscriber credentials role', () => {
      const vendor = () => synth.built.stateless.functions['sts-credentials']!;
      const credentialsRole = () => synth.built.stateless.credentialsRoles['sts-credentials']!;

      it('trusts only the sts-credentials function role, for AssumeRole with a source identity and SetSourceIdentity', () => {
        const role = synth.stateless.toJSON().Resources[logicalId(credentialsRole())].Properties;
        const vendorRoleArn = { 'Fn::GetAtt': [logicalId(vendor().function.role!), 'Arn'] };
        expect(role.AssumeRolePolicyDocument.Statement).toEqual([
          { Action: 'sts:AssumeRole', Effect: 'Allow', Principal: { AWS: vendorRoleArn }, Condition: { Null: { 'sts:SourceIdentity': 'false' } } },
          { Action: 'sts:SetSourceIdentity', Effect: 'Allow', Principal: { AWS: vendorRoleArn } },
        ]);
        expect(role.MaxSessionDuration).toBe(3600);
        expect(role.ManagedPolicyArns).toBeUndefined();
        expect(role.Policies).toBeUndefined();
      });

      it('allows only the speech-to-text actions', () => {
        const statements = statementsOf(synth.stateless, logicalId(credentialsRole()));
        expect(statements).toEqual([{ Sid: 'SpeechToText', Effect: 'Allow', Action: [...CREDENTIAL_ACTIONS], Resource: '*' }]);
      });

      it('lets only the sts-credentials function assume it, with its ARN in CREDENTIALS_ROLE_ARN', () => {
        const roleArn = JSON.stringify({ 'Fn::GetAtt': [logicalId(credentialsRole()), 'Arn'] });
        for (const def of FUNCTION_DEFINITIONS) {
          const trigger = synth.built.stateful.triggerFunctions[def.name];
          const fn = trigger ?? synth.built.stateless.functions[def.name]!;
          const template = trigger ? synth.stateful : synth.stateless;
          const sts = statementsOf(template, logicalId(fn.function.role!)).filter((st) =>
            asArray(st.Action as string | string[]).some((a) => a.startsWith('sts:')),
          );
          const variables = template.toJSON().Resources[logicalId(fn.function)].Properties.Environment.Variables;
          if (def.awsCredentials) {
            expect(sts).toEqual([{ Action: ['sts:AssumeRole', 'sts:SetSourceIdentity'], Effect: 'Allow', Resource: JSON.parse(roleArn) }]);
            expect(JSON.stringify(variables.CREDENTIALS_ROLE_ARN)).toBe(roleArn);
          } else {
            expect({ fn: def.name, sts }).toEqual({ fn: def.name, sts: [] });
            expect(variables.CREDENTIALS_ROLE_ARN).toBeUndefined();
          }
        }
      });
    });
  });

  describe('operations: alarms, topic, dashboard', () => {
    const template = () => synth.operations;
    const alarms = () => Object.values(resourcesOf(template(), 'AWS::CloudWatch::Alarm'));
    const topicId = () => logicalId(synth.built.operations.alarmTopic);
    /** Alarms on `metric` whose dimensions mention `target` (a logical id), or all of them without a target. */
    // A plain metric, or metric math over per-operation metrics (DynamoDB publishes ThrottledRequests per operation).
    const metricNamesOf = (props: Json): string[] => [props.MetricName, ...(props.Metrics ?? []).map((m: Json) => m.MetricStat?.Metric?.MetricName)];
    const alarmsOn = (metric: string, target?: string) =>
      alarms().filter(
        (a) => metricNamesOf(a.Properties).includes(metric) && (target === undefined || JSON.stringify([a.Properties.Dimensions ?? [], a.Properties.Metrics ?? []]).includes(target)),
      );
    const houseFunctions = () => [
      ...Object.values(synth.built.stateful.triggerFunctions),
      ...Object.values(synth.built.stateless.functions),
    ];

    it('sends every alarm to the one topic, each with a threshold, a period and a description saying what to do', () => {
      template().resourceCountIs('AWS::SNS::Topic', 1);
      // No alarmEmail in cdk.json: a topic without a subscription.
      template().resourceCountIs('AWS::SNS::Subscription', 0);
      expect(alarms().length).toBeGreaterThan(0);
      for (const alarm of alarms()) {
        const props = alarm.Properties;
        expect({ alarm: props.AlarmDescription, actions: props.AlarmActions }).toEqual({ alarm: props.AlarmDescription, actions: [{ Ref: topicId() }] });
        expect(props.OKActions).toEqual([{ Ref: topicId() }]);
        expect(typeof props.Threshold).toBe('number');
        expect(props.EvaluationPeriods).toBeGreaterThanOrEqual(1);
        expect(String(props.AlarmDescription).length).toBeGreaterThanOrEqual(60);
      }
      // Alarms elsewhere would page no one.
      for (const stack of [synth.stateful, synth.stateless]) stack.resourceCountIs('AWS::CloudWatch::Alarm', 0);
    });

    it('alarms on errors, throttles and p99 duration near the timeout of every function, Cognito triggers included', () => {
      expect(houseFunctions()).toHaveLength(Object.keys(FUNCTIONS).length);
      for (const fn of houseFunctions()) {
        const id = logicalId(fn.function);
        const name = fn.definition.name;
        expect({ name, errors: alarmsOn('Errors', id).length, throttles: alarmsOn('Throttles', id).length }).toEqual({ name, errors: 1, throttles: 1 });
        const duration = alarmsOn('Duration', id);
        expect({ name, duration: duration.length }).toEqual({ name, duration: 1 });
        expect(duration[0]!.Properties.ExtendedStatistic).toBe('p99');
        const timeoutMs = (fn.definition.timeoutSeconds ?? 10) * 1000;
        expect(duration[0]!.Properties.Threshold).toBeGreaterThanOrEqual(timeoutMs * 0.7);
        expect(duration[0]!.Properties.Threshold).toBeLessThan(timeoutMs);
      }
      const trigger = synth.built.stateful.triggerFunctions['post-confirmation']!;
      expect(alarmsOn('Errors', logicalId(trigger.function))[0]!.Properties.AlarmDescription).toMatch(/sign-up|Cognito/i);
    });

    it('alarms on the API 5xx rate and p99 latency', () => {
      const apiName = `entitlements-${CDK_CONTEXT.stage}`;
      const onApi = (metric: string) => alarms().filter((a) => a.Properties.Metrics || (a.Properties.MetricName === metric && JSON.stringify(a.Properties.Dimensions).includes(apiName)));
      // The 5xx rate is metric math: 5XXError / Count.
      const rate = alarms().filter((a) => JSON.stringify(a.Properties.Metrics ?? []).includes('5XXError') && JSON.stringify(a.Properties.Metrics ?? []).includes('"Count"'));
      expect(rate).toHaveLength(1);
      const latency = onApi('Latency').filter((a) => a.Properties.MetricName === 'Latency');
      expect(latency).toHaveLength(1);
      expect(latency[0]!.Properties.ExtendedStatistic).toBe('p99');
    });

    it('alarms on throttled requests and system errors of every table', () => {
      for (const table of TABLE_LIST) {
        const id = logicalId(synth.built.stateful.tables[table.id]);
        expect({ table: table.id, throttled: alarmsOn('ThrottledRequests', id).length, system: alarmsOn('SystemErrors', id).length }).toEqual({
          table: table.id,
          throttled: 1,
          system: 1,
        });
      }
    });

    it('alarms on webhook failures, reconciliation repairs and unknown Stripe prices from the business metrics', () => {
      for (const metric of ['WebhookFailed', 'ReconcileRepairs', 'UnknownStripePrice']) {
        const found = alarmsOn(metric);
        expect({ metric, count: found.length }).toEqual({ metric, count: 1 });
        expect(found[0]!.Properties).toEqual(
          expect.objectContaining({ Namespace: 'entitlements', Threshold: 0, ComparisonOperator: 'GreaterThanThreshold', TreatMissingData: 'notBreaching' }),
        );
        expect(found[0]!.Properties.Dimensions).toEqual([{ Name: 'service', Value: 'entitlements' }]);
      }
    });

    it('alarms on the depth of every dead-letter queue (any sqs.Queue whose id ends in DeadLetterQueue)', () => {
      const deadLetterQueues = [synth.built.stateful, synth.built.stateless].flatMap((stack) =>
        stack.node.findAll().filter((c): c is import('aws-cdk-lib/aws-sqs').Queue => c.node.id.endsWith('DeadLetterQueue') && 'queueArn' in c),
      );
      expect(deadLetterQueues.length).toBeGreaterThanOrEqual(1);
      for (const queue of deadLetterQueues) {
        const found = alarmsOn('ApproximateNumberOfMessagesVisible', logicalId(queue));
        expect({ queue: queue.node.path, count: found.length }).toEqual({ queue: queue.node.path, count: 1 });
        expect(found[0]!.Properties.Threshold).toBe(0);
      }
    });

    it('has one dashboard showing the API, the functions, the tables, the queues and the business metrics', () => {
      template().resourceCountIs('AWS::CloudWatch::Dashboard', 1);
      const body = JSON.stringify(Object.values(resourcesOf(template(), 'AWS::CloudWatch::Dashboard'))[0]!.Properties.DashboardBody);
      for (const metric of ['5XXError', 'Latency', 'Errors', 'ThrottledRequests', 'ApproximateNumberOfMessagesVisible', 'WebhookApplied', 'WebhookFailed', 'TokensConsumed', 'InsufficientTokens', 'CacheHit', 'CacheMiss', 'CircuitBreakerOpened', 'EntitlementEventsPublished', 'ReconcileRepairs']) {
        expect({ metric, shown: body.includes(metric) }).toEqual({ metric, shown: true });
      }
    });
  });

  describe('the edge', () => {
    it('puts a regional WAF web ACL with the AWS common rule set and a per-IP rate rule on the API stage', () => {
      const acls = Object.values(resourcesOf(synth.stateless, 'AWS::WAFv2::WebACL'));
      expect(acls).toHaveLength(1);
      const acl = acls[0]!.Properties;
      expect(acl.Scope).toBe('REGIONAL');
      expect(acl.DefaultAction).toEqual({ Allow: {} });
      const rules = acl.Rules as Json[];
      expect(rules.some((r) => r.Statement.ManagedRuleGroupStatement?.Name === 'AWSManagedRulesCommonRuleSet' && r.Statement.ManagedRuleGroupStatement.VendorName === 'AWS')).toBe(true);
      const rate = rules.find((r) => r.Name === 'RequestsPerIp');
      expect(rate?.Statement.RateBasedStatement).toEqual(expect.objectContaining({ AggregateKeyType: 'IP', Limit: CDK_CONTEXT.wafRequestsPerIpPer5Minutes }));
      expect(rate?.Action).toEqual({ Block: expect.anything() });
      // The app's backends (x-api-key) are out of that limit and under their own, higher one.
      const apiKey = { SizeConstraintStatement: expect.objectContaining({ FieldToMatch: { SingleHeader: { Name: 'x-api-key' } }, ComparisonOperator: 'GT', Size: 0 }) };
      expect(rate?.Statement.RateBasedStatement.ScopeDownStatement).toEqual({ NotStatement: { Statement: apiKey } });
      const backend = rules.find((r) => r.Name === 'BackendRequestsPerIp');
      expect(backend?.Statement.RateBasedStatement).toEqual(expect.objectContaining({ AggregateKeyType: 'IP', Limit: CDK_CONTEXT.wafBackendRequestsPerIpPer5Minutes, ScopeDownStatement: apiKey }));
      expect(backend?.Action).toEqual({ Block: expect.anything() });

      const associations = Object.values(resourcesOf(synth.stateless, 'AWS::WAFv2::WebACLAssociation'));
      expect(associations).toHaveLength(1);
      const association = JSON.stringify(associations[0]!.Properties);
      expect(association).toContain(logicalId(synth.built.stateless.api));
      expect(association).toContain(`/stages/`);
      expect(associations[0]!.Properties.WebACLArn).toEqual({ 'Fn::GetAtt': [Object.keys(resourcesOf(synth.stateless, 'AWS::WAFv2::WebACL'))[0], 'Arn'] });
    });

    it('reserves concurrency for the functions FUNCTIONS caps, and only those', () => {
      const capped = FUNCTION_DEFINITIONS.filter((d) => d.reservedConcurrency !== undefined);
      expect(capped.map((d) => d.name).sort()).toEqual(['deletion-worker', 'health', 'kofi-webhook', 'stripe-webhook']);
      for (const def of FUNCTION_DEFINITIONS) {
        const trigger = synth.built.stateful.triggerFunctions[def.name];
        const fn = trigger ?? synth.built.stateless.functions[def.name]!;
        const props = (trigger ? synth.stateful : synth.stateless).toJSON().Resources[logicalId(fn.function)].Properties;
        expect({ fn: def.name, reserved: props.ReservedConcurrentExecutions }).toEqual({ fn: def.name, reserved: def.reservedConcurrency });
      }
    });

    it('lets token consume append ledger and idempotency rows and update balances, never delete anything', () => {
      const fn = synth.built.stateless.functions['token-consume']!;
      const statements = statementsOf(synth.stateless, logicalId(fn.function.role!));
      const actionsOn = (table: TableDefinition['id']) => {
        const tableId = logicalId(synth.built.stateful.tables[table]);
        return statements.filter((s) => JSON.stringify(s.Resource).includes(tableId)).flatMap((s) => asArray(s.Action as string | string[]));
      };
      for (const table of TABLE_LIST) {
        const actions = actionsOn(table.id);
        expect({ table: table.id, deletes: actions.filter((a) => a === 'dynamodb:DeleteItem' || a === 'dynamodb:BatchWriteItem') }).toEqual({ table: table.id, deletes: [] });
      }
      expect(actionsOn('ledger').filter((a) => WRITE_ACTIONS.includes(a))).toEqual(['dynamodb:PutItem']);
      expect(actionsOn('idempotency').filter((a) => WRITE_ACTIONS.includes(a))).toEqual(['dynamodb:PutItem']);
      expect(actionsOn('entitlements').filter((a) => WRITE_ACTIONS.includes(a))).toEqual(['dynamodb:UpdateItem']);
      // The account-deletion mark a consume checks is on the entitlement row: the profiles are none of its business.
      expect(actionsOn('users')).toEqual([]);
    });
  });

  describe('Ko-fi webhook', () => {
    const fn = () => synth.built.stateless.functions['kofi-webhook']!;
    const actionsOn = (table: TableDefinition['id']) => {
      const tableId = logicalId(synth.built.stateful.tables[table]);
      return statementsOf(synth.stateless, logicalId(fn().function.role!))
        .filter((s) => JSON.stringify(s.Resource).includes(tableId))
        .flatMap((s) => asArray(s.Action as string | string[]));
    };

    it('is a public POST /kofi/webhook method without an authorizer, throttled like the other public routes', () => {
      const methods = Object.values(resourcesOf(synth.stateless, 'AWS::ApiGateway::Method')).filter((m) => m.Properties.HttpMethod === 'POST');
      const kofi = methods.filter((m) => JSON.stringify(m.Properties.Integration ?? {}).includes(logicalId(fn().function)));
      expect(kofi).toHaveLength(1);
      expect(kofi[0]!.Properties.AuthorizationType).toBe('NONE');
      const stage = Object.values(resourcesOf(synth.stateless, 'AWS::ApiGateway::Stage'))[0]!.Properties;
      expect(stage.MethodSettings).toEqual(expect.arrayContaining([expect.objectContaining({ ResourcePath: '/~1kofi~1webhook', HttpMethod: 'POST' })]));
    });

    it('reads the Ko-fi token secret (created by the stateful stack as a random value, never a known placeholder), and writes only what the webhook writes', () => {
      const secretId = logicalId(synth.built.stateful.kofiSecret);
      const secret = synth.stateful.toJSON().Resources[secretId].Properties;
      // A literal value in the template would be public: anyone could forge payments with it on a fresh deploy.
      expect(secret.SecretString).toBeUndefined();
      expect(secret.GenerateSecretString).toMatchObject({ PasswordLength: 48, ExcludePunctuation: true });
      expect(secret.Description).toMatch(/random value/);
      expect(secret.Description).not.toMatch(/placeholder/i);
      const variables = synth.stateless.toJSON().Resources[logicalId(fn().function)].Properties.Environment.Variables;
      expect(JSON.stringify(variables.KOFI_SECRET_ARN)).toContain(secretId);
      const writes = (table: TableDefinition['id']) => actionsOn(table).filter((a) => WRITE_ACTIONS.includes(a));
      // Payment records (Put); the grant is extended and claimed with conditional Updates (never a Put that would drop its owner).
      expect(writes('kofi').sort()).toEqual(['dynamodb:PutItem', 'dynamodb:UpdateItem']);
      expect(writes('idempotency')).toEqual(['dynamodb:PutItem']);
      expect(writes('entitlements')).toEqual(['dynamodb:UpdateItem']);
      expect(writes('users')).toEqual([]);
      expect(writes('emailOwners')).toEqual([]);
      for (const table of ['ledger', 'apiKeys'] as const) expect({ table, actions: actionsOn(table) }).toEqual({ table, actions: [] });
    });
  });

  describe('cdk-nag (AWS Solutions)', () => {
    let nagged: ReturnType<typeof nagFindings>;

    beforeAll(() => {
      nagged = nagFindings({ context: CDK_CONTEXT });
    }, 180_000);

    it('synthesises with no unacknowledged error or warning', () => {
      expect(nagged.findings).toEqual([]);
      expect(nagged.synthError).toBeUndefined();
      for (const stack of [nagged.built.stateful, nagged.built.stateless]) {
        expect(Annotations.fromStack(stack).findError('*', Match.anyValue())).toEqual([]);
        expect(Annotations.fromStack(stack).findWarning('*', Match.stringLikeRegexp('AwsSolutions-.*'))).toEqual([]);
      }
    });

    it('is registered by buildApp, and every acknowledgement carries a written reason', () => {
      const acknowledged: Array<{ id: string; reason: string }> = [];
      for (const stack of [nagged.built.stateful, nagged.built.stateless]) {
        for (const resource of Object.values(Template.fromStack(stack).toJSON().Resources as Record<string, Json>)) {
          acknowledged.push(...(resource.Metadata?.cdk_nag?.rules_to_suppress ?? []));
        }
      }
      const ours = acknowledged.filter((a) => a.id.startsWith('AwsSolutions-'));
      // The audit trail is written by the pack buildApp registers.
      expect(ours.length).toBeGreaterThan(0);
      for (const ack of ours) expect({ id: ack.id, reasonLength: ack.reason.length >= 60 }).toEqual({ id: ack.id, reasonLength: true });
      // IAM5 (wildcards) is fixed, not acknowledged, except Resource "*" for Transcribe streaming,
      // which has no resource-level permissions (infra/constructs/subscriber-credentials-role.ts).
      expect(ours.filter((a) => a.id.startsWith('AwsSolutions-IAM5')).map((a) => a.id)).toEqual(['AwsSolutions-IAM5[Resource::*]']);
    });
  });

  it('outputs the API URL, user pool and client ids', () => {
    synth.stateless.hasOutput('ApiUrl', {});
    synth.stateful.hasOutput('UserPoolId', {});
    synth.stateful.hasOutput('UserPoolClientId', {});
  });
});

const PROD_CONTEXT: Record<string, unknown> = {
  ...CDK_CONTEXT,
  stage: 'prod',
  natGateways: '2',
  apiThrottleRateLimit: '50',
  catalogueEnvironment: 'staging',
  alarmEmail: 'ops@example.com',
  interfaceEndpoints: 'true',
  // Same handlers as the dev app: skip bundling them again.
  'aws:cdk:bundling-stacks': [],
};

describe('entitlements CDK app (prod, routes of every auth kind)', () => {
  let synth: Synthesised;
  const routes = [...ROUTES, ...EXTRA_ROUTES];

  beforeAll(() => {
    synth = synthesise({ context: PROD_CONTEXT, routes });
  }, 180_000);

  it('puts a Cognito authorizer requiring an access token on cognito routes only', () => {
    expectRoutesWired(synth, routes);
    synth.stateless.resourceCountIs('AWS::ApiGateway::Authorizer', 1);
  });

  it('retains data and turns on deletion protection', () => {
    for (const table of Object.values(resourcesOf(synth.stateful, 'AWS::DynamoDB::Table'))) {
      expect(table.DeletionPolicy).toBe('Retain');
      expect(table.Properties.DeletionProtectionEnabled).toBe(true);
      expect(table.Properties.PointInTimeRecoverySpecification).toEqual({ PointInTimeRecoveryEnabled: true });
    }
    synth.stateful.hasResource('AWS::Cognito::UserPool', { DeletionPolicy: 'Retain', Properties: Match.objectLike({ DeletionProtection: 'ACTIVE' }) });
    for (const secret of Object.values(resourcesOf(synth.stateful, 'AWS::SecretsManager::Secret'))) expect(secret.DeletionPolicy).toBe('Retain');
    expect(synth.built.stateful.terminationProtection).toBe(true);
  });

  it('reads numbers given as strings on the command line and tells every function its catalogue environment', () => {
    synth.stateful.resourceCountIs('AWS::EC2::NatGateway', 2);
    synth.stateless.hasResourceProperties('AWS::ApiGateway::Stage', {
      StageName: 'prod',
      MethodSettings: Match.arrayWith([Match.objectLike({ ResourcePath: '/*', ThrottlingRateLimit: 50 })]),
    });
    for (const fn of Object.values(synth.built.stateless.functions)) {
      const variables = synth.stateless.toJSON().Resources[logicalId(fn.function)].Properties.Environment.Variables;
      expect(variables).toEqual(expect.objectContaining({ CATALOGUE_ENVIRONMENT: 'staging' }));
      // Plans, prices and grace come from the catalogue file the bundle carries, not from variables.
      for (const name of Object.keys(variables)) expect(name).not.toMatch(/^(TIER_|STRIPE_PRICE_|TOKEN_PACK|PAST_DUE_GRACE|ADMIN_GRANT)/);
    }
  });

  it('runs a second NAT gateway by default, and Secrets Manager and STS interface endpoints when asked', () => {
    // PROD_CONTEXT gives natGateways itself; the prod default is one per AZ.
    expect(readAppSettings({ tryGetContext: (key: string) => ({ stage: 'prod' })[key as 'stage'] }).natGateways).toBe(2);
    for (const service of ['secretsmanager', 'sts']) {
      synth.stateful.hasResourceProperties('AWS::EC2::VPCEndpoint', {
        VpcEndpointType: 'Interface',
        PrivateDnsEnabled: true,
        ServiceName: Match.objectLike({ 'Fn::Join': Match.arrayWith([Match.arrayWith([`.${service}`])]) }),
      });
    }
  });

  it('subscribes the alarm email from context to the alarm topic', () => {
    synth.operations.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'ops@example.com',
      TopicArn: { Ref: logicalId(synth.built.operations.alarmTopic) },
    });
  });

  it('stays clean under cdk-nag with api-key and webhook routes', () => {
    const { findings, synthError } = nagFindings({ context: { ...PROD_CONTEXT }, routes });
    expect(findings).toEqual([]);
    expect(synthError).toBeUndefined();
  });
  it('delivers entitlement.changed to an eventsWebhookUrl through an API destination, with its own dead-letter queue, and stays clean under cdk-nag', () => {
    const { built, findings, synthError } = nagFindings({ context: { ...PROD_CONTEXT, eventsWebhookUrl: 'https://app.example.com/hooks/entitlements' }, routes });
    expect(findings).toEqual([]);
    expect(synthError).toBeUndefined();
    const stateless = Template.fromStack(built.stateless);
    stateless.hasResourceProperties('AWS::Events::ApiDestination', { InvocationEndpoint: 'https://app.example.com/hooks/entitlements', HttpMethod: 'POST' });
    stateless.resourceCountIs('AWS::Events::Connection', 1);
    stateless.hasResourceProperties('AWS::Events::Rule', { EventPattern: Match.objectLike({ 'detail-type': ['entitlement.changed'] }) });
    expect(Object.keys(stateless.findResources('AWS::SQS::Queue')).some((id) => id.startsWith('EventsWebhookDeadLetterQueue'))).toBe(true);
  });
});

describe('CDK context', () => {
  const read = (context: Record<string, unknown>) => readAppSettings({ tryGetContext: (key: string) => context[key] });

  it('defaults to a disposable dev stage', () => {
    const settings = read({});
    expect(settings).toEqual(
      expect.objectContaining({ stage: 'dev', isProd: false, natGateways: 1, apiThrottleRateLimit: 100, apiThrottleBurstLimit: 200, logRetention: 30 }),
    );
    expect(settings.functionEnvironment).toEqual({});
    expect(settings.catalogue).toMatchObject({ environment: 'test', source: 'entitlements.config.json' });
    expect(settings.schedules).toEqual({ 'reconcile-light': SCHEDULES['reconcile-light'].defaultExpression, 'reconcile-full': SCHEDULES['reconcile-full'].defaultExpression });
  });

  it.each([
    [{ natGateways: 0 }, 'natGateways'],
    [{ natGateways: 'two' }, 'natGateways'],
    [{ logRetentionDays: 31 }, 'logRetentionDays'],
    [{ stage: 'Prod!' }, 'stage'],
    [{ apiThrottleBurstLimit: 1.5 }, 'apiThrottleBurstLimit'],
    [{ reconcileLightSchedule: 'every 5 minutes' }, 'reconcileLightSchedule'],
    [{ reconcileFullSchedule: 'cron(0 3 * * *)' }, 'reconcileFullSchedule'],
  ])('rejects %j naming %s', (context, key) => {
    expect(() => read(context)).toThrow(key);
  });

  it('refuses every retired plan, price and grace key, naming the field of the catalogue file that replaced it', () => {
    const refusal = () => read({ stripePricePro: 'price_old', tierProMonthlyTokens: 9000, stripePriceTokenPack: 'price_pack', tokenPackSize: 50, pastDueGrace: 'true', pastDueGraceDays: 3, adminGrantTier: 'pro' });
    expect(refusal).toThrow(ContextError);
    for (const named of [
      'context key stripePricePro is no longer read: set plans[pro].stripePrices.test in entitlements.config.json instead',
      'context key tierProMonthlyTokens is no longer read: set plans[pro].monthlyTokens',
      'context key stripePriceTokenPack is no longer read: set topUps[].stripePrices.test',
      'context key tokenPackSize is no longer read: set topUps[].tokens',
      'context key pastDueGrace is no longer read: set pastDueGrace.enabled',
      'context key pastDueGraceDays is no longer read: set pastDueGrace.days',
      'context key adminGrantTier is no longer read: set sources.admin.grantPlan',
    ]) {
      expect(refusal).toThrow(named);
    }
    // In prod the live environment's prices are named.
    expect(() => read({ stage: 'prod', stripePriceBasic: 'price_old' })).toThrow('set plans[basic].stripePrices.live');
  });

  it('refuses an environment the file does not have, and a priced plan or top-up without a price id there', () => {
    expect(() => read({ catalogueEnvironment: 'qa' })).toThrow('the Stripe environment "qa" (CATALOGUE_ENVIRONMENT / context catalogueEnvironment) is not in the file (it has: live, local, staging, test)');
    expect(() => read({ catalogueEnvironment: 'qa' })).toThrow('plans[3] (pro) has a price but no Stripe price id in "qa": add it to plans[3].stripePrices.qa');
    const pushed = process.env.CATALOGUE_FILE;
    process.env.CATALOGUE_FILE = SHIPPED_CATALOGUE;
    try {
      // The shipped file sells in `local` only: a deploy must push its prices first.
      expect(() => read({})).toThrow('the Stripe environment "test" (CATALOGUE_ENVIRONMENT / context catalogueEnvironment) is not in the file (it has: local)');
      for (const item of ['plans[2] (basic)', 'plans[3] (pro)', 'plans[4] (enterprise)', 'topUps[0] (tokens-100)']) expect(() => read({})).toThrow(`${item} has a price but no Stripe price id in "test"`);
      expect(read({ catalogueEnvironment: 'local' }).catalogue.environment).toBe('local');
    } finally {
      process.env.CATALOGUE_FILE = pushed;
    }
  });
});
