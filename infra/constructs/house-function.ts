import * as path from 'node:path';
import { Duration, Lazy, Validations, type RemovalPolicy } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat, SourceMapMode } from 'aws-cdk-lib/aws-lambda-nodejs';
import { SqsDlq, SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type * as events from 'aws-cdk-lib/aws-events';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type * as cognito from 'aws-cdk-lib/aws-cognito';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import type { TableDefinition } from '../../shared/adapters/dynamodb/tables';
import { BUNDLED_CATALOGUE_DEFINE, bundledCatalogue } from '../../shared/config/catalogue';
import { handlerEntry, type FunctionDefinition, type TableAccess, type TableWrite } from '../../shared/routes';

/** Repository root: handler entries in shared/routes.ts are relative to it. */
export const REPO_ROOT = path.resolve(__dirname, '..', '..');

export const HOUSE_RUNTIME = lambda.Runtime.NODEJS_22_X;
export const SERVICE_NAME = 'entitlements';

/**
 * esbuild options of every function bundle; bench/cold-start.bench.ts bundles
 * with the same ones. The AWS SDK is bundled from its ES module build
 * (`mainFields: module first`), so esbuild keeps only what the functions use:
 * measured 14-21% faster to load than the runtime's copy of the SDK (external
 * `@aws-sdk/*`), which Node.js resolves and compiles file by file, and than
 * the SDK bundled from its CommonJS build, which keeps every command (bench
 * `variant:` rows; figures in README, Decisions). It also pins the SDK
 * version the tests ran against instead of whatever the runtime ships.
 */
export const HOUSE_BUNDLING = {
  minify: true,
  sourceMap: true,
  sourcesContent: false,
  target: 'node22',
  format: 'cjs',
  mainFields: ['module', 'main'],
  // Nothing left out. Leaving out the credential providers behind the default chain's environment step
  // measured 8% faster, but the bundle reaches them with import(), which never searches the runtime's
  // node_modules: AWS_PROFILE or container credentials on a function would fail with a missing module.
  externalModules: [] as string[],
} as const;

/** Whether a bundle built with these externals takes the AWS SDK from the runtime instead of carrying it. */
export const sdkFromRuntime = (externals: readonly string[]): boolean => externals.includes('@aws-sdk/*');

/**
 * NODE_OPTIONS of every function (none when empty); bench/cold-start.bench.ts
 * loads bundles with the same. No --enable-source-maps: Node.js would parse
 * the bundle's map on every cold start (~5% of the load, bench `variant:`
 * rows); the map still ships beside the bundle (sourceMap) and
 * shared/observability/stack-traces.ts reads it on the first stack trace.
 * The figures are in README, Decisions.
 */
export const HOUSE_NODE_OPTIONS: string = '';

/**
 * The esbuild `define` that compiles the catalogue file into a bundle: the
 * loader (shared/config/catalogue.ts) reads it instead of a file, so a
 * function runs exactly the catalogue validated at synth. It carries the file
 * as parsed here (bundledCatalogue: an invalid file fails the synth), so the
 * function's cold start reads JSON and builds no schema.
 */
export function catalogueDefine(text: string): Record<string, string> {
  return { [BUNDLED_CATALOGUE_DEFINE]: JSON.stringify(bundledCatalogue(text)) };
}

/** Key and index lookups only; Scan is deliberately absent. */
export const TABLE_READ_ACTIONS = [
  'dynamodb:GetItem',
  'dynamodb:BatchGetItem',
  'dynamodb:Query',
  'dynamodb:ConditionCheckItem',
  'dynamodb:DescribeTable',
] as const;
export const TABLE_WRITE_ACTIONS = ['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem', 'dynamodb:BatchWriteItem'] as const;
/** What a stream consumer's event source mapping reads, granted on the stream's ARN: no item access. */
export const TABLE_STREAM_ACTIONS = ['dynamodb:DescribeStream', 'dynamodb:GetRecords', 'dynamodb:GetShardIterator', 'dynamodb:ListStreams'] as const;

const WRITE_ACTION: Record<TableWrite, (typeof TABLE_WRITE_ACTIONS)[number]> = {
  put: 'dynamodb:PutItem',
  update: 'dynamodb:UpdateItem',
  delete: 'dynamodb:DeleteItem',
};

function tableActions(access: TableAccess): string[] {
  if (access === 'read') return [...TABLE_READ_ACTIONS];
  if (access === 'readWrite') return [...TABLE_READ_ACTIONS, ...TABLE_WRITE_ACTIONS];
  return [...TABLE_READ_ACTIONS, ...access.write.map((write) => WRITE_ACTION[write])];
}

export interface HouseFunctionProps {
  readonly definition: FunctionDefinition;
  readonly vpc: ec2.IVpc;
  readonly logRetention: logs.RetentionDays;
  /** For the function's log group. */
  readonly removalPolicy: RemovalPolicy;
  /** Extra variables set on the function (Cognito ids, APP_BASE_URL...). */
  readonly environment?: Record<string, string>;
  /**
   * The catalogue file (validated JSON text) and the Stripe environment whose
   * prices apply. The text is compiled into the bundle (esbuild `define`), so
   * the function reads exactly the file validated at synth, with no file to
   * locate at run time; CATALOGUE_ENVIRONMENT picks the price ids.
   */
  readonly catalogue: { readonly text: string; readonly environment: string };
}

export interface CacheAccess {
  readonly address: string;
  readonly port: string;
  readonly authSecret: secretsmanager.ISecret;
  readonly clientSecurityGroup: ec2.ISecurityGroup;
}

/**
 * The one way this project builds a Lambda function: current Node.js LTS on
 * arm64, minified bundle with source maps, an explicit log group with
 * retention, private subnets, and helpers that grant access to a resource and
 * set the variable the handler reads for it in the same call, so the two can
 * never drift apart.
 */
export class HouseFunction extends Construct {
  public readonly function: NodejsFunction;
  public readonly logGroup: logs.LogGroup;
  public readonly definition: FunctionDefinition;

  constructor(scope: Construct, id: string, props: HouseFunctionProps) {
    super(scope, id);
    const { definition } = props;
    this.definition = definition;

    this.logGroup = new logs.LogGroup(this, 'LogGroup', {
      retention: props.logRetention,
      removalPolicy: props.removalPolicy,
    });

    this.function = new NodejsFunction(this, 'Function', {
      description: definition.description,
      entry: path.join(REPO_ROOT, handlerEntry(definition.name)),
      handler: 'handler',
      projectRoot: REPO_ROOT,
      depsLockFilePath: path.join(REPO_ROOT, 'package-lock.json'),
      runtime: HOUSE_RUNTIME,
      architecture: lambda.Architecture.ARM_64,
      memorySize: definition.memorySize ?? 256,
      timeout: Duration.seconds(definition.timeoutSeconds ?? 10),
      ...(definition.reservedConcurrency !== undefined ? { reservedConcurrentExecutions: definition.reservedConcurrency } : {}),
      logGroup: this.logGroup,
      vpc: props.vpc,
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
      bundling: {
        ...HOUSE_BUNDLING,
        sourceMapMode: SourceMapMode.DEFAULT,
        format: OutputFormat.CJS,
        mainFields: [...HOUSE_BUNDLING.mainFields],
        externalModules: [...HOUSE_BUNDLING.externalModules],
        define: catalogueDefine(props.catalogue.text),
      },
      environment: {
        ...(HOUSE_NODE_OPTIONS ? { NODE_OPTIONS: HOUSE_NODE_OPTIONS } : {}),
        POWERTOOLS_SERVICE_NAME: SERVICE_NAME,
        POWERTOOLS_METRICS_NAMESPACE: SERVICE_NAME,
        LOG_LEVEL: 'INFO',
        CATALOGUE_ENVIRONMENT: props.catalogue.environment,
        ...props.environment,
      },
    });

    // Lambda's L2 copies its security groups into VpcConfig once, at
    // construction; read them lazily so useRedis() can add the cache's
    // client group afterwards.
    const cfnFunction = this.function.node.defaultChild as lambda.CfnFunction;
    const vpcConfig = cfnFunction.vpcConfig as lambda.CfnFunction.VpcConfigProperty;
    cfnFunction.vpcConfig = {
      ...vpcConfig,
      securityGroupIds: Lazy.list({ produce: () => this.function.connections.securityGroups.map((sg) => sg.securityGroupId) }),
    };

    Validations.of(this.function).acknowledge(
      {
        id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
        reason: 'AWS-maintained policy limited to writing this function\'s CloudWatch logs; the log group is explicit and owned by this construct.',
      },
      {
        id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole]',
        reason: 'AWS-maintained policy with exactly the ENI permissions a function in a VPC needs; ENI ids are not known in advance, so it cannot be narrowed.',
      },
      {
        id: 'AwsSolutions-L1',
        reason:
          'Runtime pinned to Node.js 22 (the house runtime, matching the esbuild target and the local stack); moving to a newer runtime is a deliberate, tested change, not an automatic one.',
      },
    );
  }

  /**
   * Sets the table's physical name in its variable without granting access:
   * configuration requires every TABLE_* variable, access is granted per function.
   */
  public exposeTableName(definition: TableDefinition, table: dynamodb.ITable): this {
    this.function.addEnvironment(definition.envVar, table.tableName);
    return this;
  }

  /**
   * Grants read or read/write on the table and on each of its indexes by name,
   * and sets its variable. No `index/*` wildcard and no Scan: every read is a
   * key or index lookup (ARCHITECTURE.md, data rules). Transactions need no
   * extra action: DynamoDB checks the per-item actions inside them.
   */
  public grantTable(definition: TableDefinition, table: dynamodb.ITable, access: TableAccess): this {
    this.exposeTableName(definition, table);
    iam.Grant.addToPrincipal({
      grantee: this.function,
      actions: tableActions(access),
      resourceArns: [
        table.tableArn,
        ...definition.globalSecondaryIndexes.map((index) => `${table.tableArn}/index/${index.indexName}`),
      ],
    });
    return this;
  }

  /** Puts the function in the cache's client group and tells it where the cache is. */
  public useRedis(cache: CacheAccess): this {
    this.function.connections.addSecurityGroup(cache.clientSecurityGroup);
    this.function.addEnvironment('REDIS_URL', `rediss://${cache.address}:${cache.port}`);
    this.function.addEnvironment('REDIS_AUTH_SECRET_ARN', cache.authSecret.secretArn);
    cache.authSecret.grantRead(this.function);
    return this;
  }

  public useInternalApiKeys(secret: secretsmanager.ISecret): this {
    this.function.addEnvironment('INTERNAL_API_KEYS_SECRET_ARN', secret.secretArn);
    secret.grantRead(this.function);
    return this;
  }

  public useStripe(secret: secretsmanager.ISecret): this {
    this.function.addEnvironment('STRIPE_SECRET_ARN', secret.secretArn);
    secret.grantRead(this.function);
    return this;
  }

  /** Reads Ko-fi's webhook verification token (the whole SecretString). */
  public useKofi(secret: secretsmanager.ISecret): this {
    this.function.addEnvironment('KOFI_SECRET_ARN', secret.secretArn);
    secret.grantRead(this.function);
    return this;
  }

  /**
   * May assume the subscriber credentials role, and set the source identity
   * of the session: on that role only. Sets CREDENTIALS_ROLE_ARN.
   */
  public allowCredentialVending(role: iam.IRole): this {
    this.function.addEnvironment('CREDENTIALS_ROLE_ARN', role.roleArn);
    this.function.addToRolePolicy(new iam.PolicyStatement({ actions: ['sts:AssumeRole', 'sts:SetSourceIdentity'], resources: [role.roleArn] }));
    return this;
  }

  /** Email changes read the user and start the change in the pool (the code is verified with the user's own token). */
  public allowEmailChange(userPool: cognito.IUserPool): this {
    this.function.addToRolePolicy(
      new iam.PolicyStatement({ actions: ['cognito-idp:AdminGetUser', 'cognito-idp:AdminUpdateUserAttributes'], resources: [userPool.userPoolArn] }),
    );
    return this;
  }

  /** Account deletion removes the Cognito user last: only AdminDeleteUser, only on this pool. */
  public allowUserDeletion(userPool: cognito.IUserPool): this {
    this.function.addToRolePolicy(
      new iam.PolicyStatement({ actions: ['cognito-idp:AdminDeleteUser'], resources: [userPool.userPoolArn] }),
    );
    return this;
  }

  /**
   * Sends to the deletion worker's queue (and sets DELETION_QUEUE_URL); the
   * consumer also gets the queue as its event source: one message per
   * invocation, failed messages reported individually (SQS retries them, then
   * the queue's redrive policy moves them to the DLQ).
   */
  public useDeletionQueue(queue: sqs.IQueue, mode: 'send' | 'consume'): this {
    this.function.addEnvironment('DELETION_QUEUE_URL', queue.queueUrl);
    queue.grantSendMessages(this.function);
    if (mode === 'consume') {
      // SQS's poller ignores reserved concurrency: without a matching cap it invokes past it, the
      // throttled messages come back, and after maxReceiveCount they land in the DLQ (2 is SQS's minimum).
      const reserved = this.definition.reservedConcurrency;
      const maxConcurrency = reserved === undefined ? undefined : Math.max(2, reserved);
      this.function.addEventSource(new SqsEventSource(queue, { batchSize: 1, reportBatchItemFailures: true, ...(maxConcurrency ? { maxConcurrency } : {}) }));
    }
    return this;
  }

  /**
   * The identity sweep: looks each profile's sub up in the pool
   * (AdminGetUser, this pool only) and pages through the users table (Scan on
   * that table only: the sweep is a background job, never a request path).
   */
  public allowIdentitySweep(userPool: cognito.IUserPool, usersTable: dynamodb.ITable): this {
    this.function.addToRolePolicy(new iam.PolicyStatement({ actions: ['cognito-idp:AdminGetUser'], resources: [userPool.userPoolArn] }));
    this.function.addToRolePolicy(new iam.PolicyStatement({ actions: ['dynamodb:Scan'], resources: [usersTable.tableArn] }));
    return this;
  }

  /** Puts events on the bus (events:PutEvents on it only) and sets EVENT_BUS_NAME. */
  public useEventBus(bus: events.IEventBus): this {
    this.function.addEnvironment('EVENT_BUS_NAME', bus.eventBusName);
    bus.grantPutEventsTo(this.function);
    return this;
  }

  /**
   * The table's change stream as the event source: from the oldest record
   * kept, partial batch responses (the handler names the first record not
   * done), a failing batch bisected to isolate the record that fails, retried
   * up to 10 times, then its description sent to `deadLetters` (the records
   * stay in the stream for 24 hours: replay them from there).
   */
  public consumeTableStream(table: dynamodb.ITable, deadLetters: sqs.IQueue): this {
    const streamArn = table.tableStreamArn;
    if (!streamArn) throw new Error(`${table.node.path} has no stream: declare it in shared/adapters/dynamodb/tables.ts`);
    this.function.addEventSourceMapping('TableStream', {
      eventSourceArn: streamArn,
      startingPosition: lambda.StartingPosition.TRIM_HORIZON,
      batchSize: 100,
      maxBatchingWindow: Duration.seconds(1),
      bisectBatchOnError: true,
      retryAttempts: 10,
      reportBatchItemFailures: true,
      onFailure: new SqsDlq(deadLetters),
    });
    // The stream's read actions on this stream only (DynamoEventSource would add ListStreams on `*`).
    this.function.addToRolePolicy(new iam.PolicyStatement({ actions: [...TABLE_STREAM_ACTIONS], resources: [streamArn] }));
    return this;
  }
}
