import { CfnOutput, Duration, RemovalPolicy, SecretValue, Stack, type StackProps, Validations } from 'aws-cdk-lib';
import * as cognito from 'aws-cdk-lib/aws-cognito';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as elasticache from 'aws-cdk-lib/aws-elasticache';
import * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { TABLE_LIST, type AttributeType, type KeyDefinition, type TableId } from '../../shared/adapters/dynamodb/tables';
import type { AppSettings } from './app-context';
import { COGNITO_TRIGGERS, FUNCTIONS } from '../../shared/routes';
import { HouseFunction } from '../constructs/house-function';

/** Where the functions find the cache, and what lets them in. */
export interface CacheEndpoint {
  /** Primary endpoint of the replication group (writes and reads). */
  readonly address: string;
  readonly port: string;
  /** Secrets Manager secret whose whole SecretString is the AUTH token. */
  readonly authSecret: secretsmanager.ISecret;
  /** Attach to a function to let it reach the cache on its port. */
  readonly clientSecurityGroup: ec2.ISecurityGroup;
}

/** What the stateless stack needs from the stateful one. */
export interface StatefulResources {
  readonly vpc: ec2.IVpc;
  readonly tables: Readonly<Record<TableId, dynamodb.ITable>>;
  readonly cache: CacheEndpoint;
  readonly userPool: cognito.IUserPool;
  readonly userPoolClient: cognito.IUserPoolClient;
  readonly stripeSecret: secretsmanager.ISecret;
  /** Ko-fi's webhook verification token (the whole SecretString). */
  readonly kofiSecret: secretsmanager.ISecret;
  readonly internalApiKeysSecret: secretsmanager.ISecret;
  /** Where EventBridge Scheduler puts a scheduled invocation it could not make. */
  readonly scheduleDeadLetterQueue: sqs.IQueue;
  /** The bus entitlement.changed is published on; other services subscribe with their own rules. */
  readonly eventBus: events.IEventBus;
}

export interface StatefulStackProps extends StackProps {
  readonly settings: AppSettings;
}

/**
 * Standard attributes the app client may write with a user's access token.
 * Never `email`, `email_verified` or `phone_number`: identity attributes
 * change only through the backend.
 */
export const USER_WRITABLE_ATTRIBUTES: cognito.StandardAttributesMask = {
  fullname: true,
  givenName: true,
  familyName: true,
  middleName: true,
  nickname: true,
  locale: true,
  timezone: true,
  profilePicture: true,
  profilePage: true,
  website: true,
  birthdate: true,
  gender: true,
  address: true,
};

/** Valkey speaks the Redis protocol; the port stays the Redis default. */
export const CACHE_PORT = 6379;

const ATTRIBUTE_TYPES: Record<AttributeType, dynamodb.AttributeType> = {
  S: dynamodb.AttributeType.STRING,
  N: dynamodb.AttributeType.NUMBER,
};

const toAttribute = (key: KeyDefinition): dynamodb.Attribute => ({ name: key.name, type: ATTRIBUTE_TYPES[key.type] });

/** `apiKeys` -> `ApiKeys`: construct ids and output names. */
export const pascalCase = (id: string): string => id.charAt(0).toUpperCase() + id.slice(1);

/**
 * Everything that holds data or identity and must outlive a redeploy of the
 * code: network, tables, cache, user pool and secrets. The stateless stack
 * receives these as props and can be destroyed and recreated freely.
 */
export class StatefulStack extends Stack implements StatefulResources {
  public readonly vpc: ec2.Vpc;
  public readonly tables: Readonly<Record<TableId, dynamodb.Table>>;
  public readonly cache: CacheEndpoint;
  public readonly replicationGroup: elasticache.CfnReplicationGroup;
  public readonly cacheSecurityGroup: ec2.SecurityGroup;
  public readonly cacheClientSecurityGroup: ec2.SecurityGroup;
  public readonly redisAuthSecret: secretsmanager.Secret;
  public readonly userPool: cognito.UserPool;
  public readonly userPoolClient: cognito.UserPoolClient;
  public readonly stripeSecret: secretsmanager.Secret;
  public readonly kofiSecret: secretsmanager.Secret;
  public readonly internalApiKeysSecret: secretsmanager.Secret;
  public readonly scheduleDeadLetterQueue: sqs.Queue;
  public readonly eventBus: events.EventBus;
  /** Cognito trigger functions, by function name. */
  public readonly triggerFunctions: Record<string, HouseFunction> = {};

  constructor(scope: Construct, id: string, props: StatefulStackProps) {
    super(scope, id, props);
    const { settings } = props;

    this.vpc = this.createNetwork(settings);
    this.tables = this.createTables(settings);

    this.cacheSecurityGroup = new ec2.SecurityGroup(this, 'CacheSecurityGroup', {
      vpc: this.vpc,
      description: 'ElastiCache replication group: accepts the cache port from the cache client group only',
      allowAllOutbound: false,
    });
    this.cacheClientSecurityGroup = new ec2.SecurityGroup(this, 'CacheClientSecurityGroup', {
      vpc: this.vpc,
      description: 'Lambda functions that may connect to the cache',
      // Functions also call Cognito, Secrets Manager and Stripe through NAT.
      allowAllOutbound: true,
    });
    this.cacheSecurityGroup.addIngressRule(this.cacheClientSecurityGroup, ec2.Port.tcp(CACHE_PORT), 'Cache clients (Lambda)');

    this.redisAuthSecret = new secretsmanager.Secret(this, 'RedisAuthSecret', {
      description: 'AUTH token of the entitlements cache (the whole SecretString is the token).',
      // ElastiCache tokens: 16-128 printable characters, no @ " or /.
      generateSecretString: { passwordLength: 64, excludePunctuation: true },
      removalPolicy: settings.removalPolicy,
    });
    this.replicationGroup = this.createCache(settings);
    this.cache = {
      address: this.replicationGroup.attrPrimaryEndPointAddress,
      port: this.replicationGroup.attrPrimaryEndPointPort,
      authSecret: this.redisAuthSecret,
      clientSecurityGroup: this.cacheClientSecurityGroup,
    };

    [this.userPool, this.userPoolClient] = this.createUserPool(settings);

    // Only invocations the scheduler could not make land here (throttled, no permission); a run that fails is the function's error.
    this.scheduleDeadLetterQueue = new sqs.Queue(this, 'ScheduleDeadLetterQueue', {
      retentionPeriod: Duration.days(14),
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
    });
    Validations.of(this.scheduleDeadLetterQueue).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason: 'This is the dead-letter queue of the EventBridge schedules; nothing consumes it, an operator inspects it (the next scheduled run repeats the work anyway).',
    });

    this.stripeSecret = new secretsmanager.Secret(this, 'StripeSecret', {
      description:
        'Stripe API keys as JSON {"secretKey": "sk_...", "webhookSecret": "whsec_..."}. Ops put the real values here after the first deploy: until then the webhook secret is a random value nobody knows (every event is refused as unsigned) and the API key a placeholder Stripe refuses.',
      // No known webhook secret ever exists: a placeholder one would let anyone sign events before ops fill it in.
      // The real keys never pass through CloudFormation.
      generateSecretString: {
        secretStringTemplate: JSON.stringify({ secretKey: 'REPLACE_ME' }),
        generateStringKey: 'webhookSecret',
        passwordLength: 48,
        excludePunctuation: true,
      },
      removalPolicy: settings.removalPolicy,
    });

    this.kofiSecret = new secretsmanager.Secret(this, 'KofiSecret', {
      description:
        "Ko-fi webhook verification token (ko-fi.com > Settings > API > Webhooks > Advanced): the whole SecretString is the token. Created as a random value nobody knows; put Ko-fi's token here after the first deploy (until then every delivery is refused with 401).",
      // Random, never a known placeholder: a public default would let anyone forge payments on a fresh deploy.
      // The real token never passes through CloudFormation.
      generateSecretString: { passwordLength: 48, excludePunctuation: true },
      removalPolicy: settings.removalPolicy,
    });

    this.internalApiKeysSecret = new secretsmanager.Secret(this, 'InternalApiKeysSecret', {
      description:
        'Internal API keys accepted in x-api-key: one key, a comma-separated list or a JSON array of keys. Starts with one generated key; add the new key before removing the old one to rotate without downtime.',
      generateSecretString: { passwordLength: 48, excludePunctuation: true },
      removalPolicy: settings.removalPolicy,
    });

    // Stateful: other services' rules and archives hang off it and must outlive a redeploy of the code.
    this.eventBus = new events.EventBus(this, 'EntitlementEventsBus', {
      eventBusName: `entitlements-${settings.stage}`,
      description: 'entitlement.changed: every change of a user access (source "entitlements")',
    });

    this.createCognitoTriggers(settings);
    this.acknowledgeFindings();

    new CfnOutput(this, 'UserPoolId', { value: this.userPool.userPoolId, description: 'Cognito user pool id' });
    new CfnOutput(this, 'UserPoolClientId', { value: this.userPoolClient.userPoolClientId, description: 'Cognito app client id (no secret)' });
    for (const def of TABLE_LIST) {
      new CfnOutput(this, `${pascalCase(def.id)}TableName`, { value: this.tables[def.id].tableName, description: def.description });
    }
    new CfnOutput(this, 'CacheEndpoint', {
      value: `${this.cache.address}:${this.cache.port}`,
      description: 'Primary endpoint of the cache (TLS + AUTH)',
    });
    new CfnOutput(this, 'StripeSecretArn', { value: this.stripeSecret.secretArn, description: 'Set secretKey and webhookSecret here' });
    new CfnOutput(this, 'KofiSecretArn', { value: this.kofiSecret.secretArn, description: 'Put the Ko-fi verification token here (the whole value)' });
    new CfnOutput(this, 'InternalApiKeysSecretArn', { value: this.internalApiKeysSecret.secretArn });
    new CfnOutput(this, 'EventBusName', { value: this.eventBus.eventBusName, description: 'Bus of entitlement.changed (subscribe with a rule on source "entitlements")' });
  }

  private createNetwork(settings: AppSettings): ec2.Vpc {
    const flowLogGroup = new logs.LogGroup(this, 'VpcFlowLogs', {
      retention: settings.logRetention,
      removalPolicy: settings.removalPolicy,
    });
    const vpc = new ec2.Vpc(this, 'Vpc', {
      maxAzs: 2,
      natGateways: settings.natGateways,
      subnetConfiguration: [
        { name: 'public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24 },
        { name: 'private', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 22 },
      ],
      // DynamoDB traffic stays on the AWS network and skips NAT charges.
      gatewayEndpoints: { DynamoDb: { service: ec2.GatewayVpcEndpointAwsService.DYNAMODB } },
      flowLogs: {
        FlowLogs: {
          destination: ec2.FlowLogDestination.toCloudWatchLogs(flowLogGroup),
          trafficType: ec2.FlowLogTrafficType.ALL,
        },
      },
    });
    if (settings.interfaceEndpoints) {
      // Secret reads at cold start and credential vending stay inside the VPC: they then work while
      // NAT is down, and their bytes skip NAT processing. Stripe and Cognito still go through NAT.
      const endpoints = [
        vpc.addInterfaceEndpoint('SecretsManagerEndpoint', { service: ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER, privateDnsEnabled: true }),
        vpc.addInterfaceEndpoint('StsEndpoint', { service: ec2.InterfaceVpcEndpointAwsService.STS, privateDnsEnabled: true }),
      ];
      for (const endpoint of endpoints) {
        Validations.of(endpoint).acknowledge({
          id: 'AwsSolutions-EC23',
          reason:
            "The endpoint's security group admits HTTPS (443) from this VPC's own CIDR only, not 0.0.0.0/0; cdk-nag cannot resolve the CIDR token and flags it.",
        });
      }
    }
    return vpc;
  }

  /** One table per definition in shared/adapters/dynamodb/tables.ts. */
  private createTables(settings: AppSettings): Record<TableId, dynamodb.Table> {
    const tables = {} as Record<TableId, dynamodb.Table>;
    for (const def of TABLE_LIST) {
      const table = new dynamodb.Table(this, `${pascalCase(def.id)}Table`, {
        partitionKey: toAttribute(def.partitionKey),
        ...(def.sortKey ? { sortKey: toAttribute(def.sortKey) } : {}),
        billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
        pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
        encryption: dynamodb.TableEncryption.AWS_MANAGED,
        ...(def.timeToLiveAttribute ? { timeToLiveAttribute: def.timeToLiveAttribute } : {}),
        ...(def.stream ? { stream: dynamodb.StreamViewType[def.stream] } : {}),
        deletionProtection: settings.isProd,
        removalPolicy: settings.removalPolicy,
      });
      for (const index of def.globalSecondaryIndexes) {
        table.addGlobalSecondaryIndex({
          indexName: index.indexName,
          partitionKey: toAttribute(index.partitionKey),
          ...(index.sortKey ? { sortKey: toAttribute(index.sortKey) } : {}),
          projectionType: dynamodb.ProjectionType.ALL,
        });
      }
      tables[def.id] = table;
    }
    return tables;
  }

  private createCache(settings: AppSettings): elasticache.CfnReplicationGroup {
    const subnetGroup = new elasticache.CfnSubnetGroup(this, 'CacheSubnetGroup', {
      description: 'Private subnets of the entitlements cache',
      subnetIds: this.vpc.selectSubnets({ subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS }).subnetIds,
    });
    const group = new elasticache.CfnReplicationGroup(this, 'Cache', {
      replicationGroupDescription: `Entitlements read cache (${settings.stage})`,
      engine: 'valkey',
      engineVersion: '8.0',
      cacheNodeType: settings.cacheNodeType,
      // Primary + one replica in another AZ: failover instead of a cold cache.
      numCacheClusters: 2,
      automaticFailoverEnabled: true,
      multiAzEnabled: true,
      port: CACHE_PORT,
      cacheSubnetGroupName: subnetGroup.ref,
      securityGroupIds: [this.cacheSecurityGroup.securityGroupId],
      transitEncryptionEnabled: true,
      atRestEncryptionEnabled: true,
      // Resolved by CloudFormation ({{resolve:secretsmanager:...}}); never in the template.
      authToken: this.redisAuthSecret.secretValue.unsafeUnwrap(),
      autoMinorVersionUpgrade: true,
    });
    // The cache is never the source of truth: nothing to keep when the stack goes.
    group.applyRemovalPolicy(RemovalPolicy.DESTROY);
    return group;
  }

  private createUserPool(settings: AppSettings): [cognito.UserPool, cognito.UserPoolClient] {
    const userPool = new cognito.UserPool(this, 'UserPool', {
      selfSignUpEnabled: true,
      signInAliases: { email: true },
      signInCaseSensitive: false,
      autoVerify: { email: true },
      standardAttributes: { email: { required: true, mutable: true } },
      // A new address replaces the verified one only once its code is verified: until then the user
      // signs in with, and is billed and checked under, the address they proved they own.
      keepOriginal: { email: true },
      passwordPolicy: {
        minLength: 12,
        requireLowercase: true,
        requireUppercase: true,
        requireDigits: true,
        requireSymbols: true,
        tempPasswordValidity: Duration.days(3),
      },
      accountRecovery: cognito.AccountRecovery.EMAIL_ONLY,
      featurePlan: cognito.FeaturePlan.ESSENTIALS,
      deletionProtection: settings.isProd,
      removalPolicy: settings.removalPolicy,
    });
    const client = userPool.addClient('AppClient', {
      generateSecret: false,
      // ALLOW_REFRESH_TOKEN_AUTH is added by CDK whenever a flow is enabled.
      authFlows: { userPassword: true, userSrp: true },
      // The app signs in with InitiateAuth; no hosted UI, so no OAuth flows.
      disableOAuth: true,
      accessTokenValidity: Duration.hours(1),
      idTokenValidity: Duration.hours(1),
      refreshTokenValidity: Duration.days(30),
      preventUserExistenceErrors: true,
      enableTokenRevocation: true,
      // The user's own token may edit profile attributes but not `email`: an address changes only through
      // POST /me/email (+ /verify), which moves the address ownership in DynamoDB in the same step.
      writeAttributes: new cognito.ClientAttributes().withStandardAttributes(USER_WRITABLE_ATTRIBUTES),
    });
    return [userPool, client];
  }

  /** Findings that are accepted on purpose, each with its reason. */
  /**
   * Cognito triggers (post-confirmation) live here, beside the user pool: the
   * pool must reference the function and the function the tables, and both
   * are in this stack, so there is no cross-stack cycle.
   */
  private createCognitoTriggers(settings: AppSettings): void {
    for (const [trigger, name] of Object.entries(COGNITO_TRIGGERS)) {
      const def = FUNCTIONS[name];
      const fn = new HouseFunction(this, `${name.split('-').map(pascalCase).join('')}Trigger`, {
        definition: def,
        vpc: this.vpc,
        logRetention: settings.logRetention,
        removalPolicy: settings.removalPolicy,
        environment: { ...settings.functionEnvironment },
        catalogue: settings.catalogue,
      });
      for (const table of TABLE_LIST) {
        const access = def.tables[table.id];
        if (access) fn.grantTable(table, this.tables[table.id], access);
        else fn.exposeTableName(table, this.tables[table.id]);
      }
      if (def.stripe) fn.useStripe(this.stripeSecret);
      if (def.redis) fn.useRedis(this.cache);
      if (def.cognitoEmail) {
        // A policy of its own, not the role's default policy: the function does not depend on it, so
        // pool -> trigger -> role and policy -> pool make no cycle.
        new iam.Policy(this, `${name.split('-').map(pascalCase).join('')}CognitoRead`, {
          roles: [fn.function.role!],
          statements: [new iam.PolicyStatement({ actions: ['cognito-idp:AdminGetUser'], resources: [this.userPool.userPoolArn] })],
        });
      }
      if (trigger === 'PostConfirmation') this.userPool.addTrigger(cognito.UserPoolOperation.POST_CONFIRMATION, fn.function);
      this.triggerFunctions[name] = fn;
    }
  }

  private acknowledgeFindings(): void {
    Validations.of(this.userPool.node.defaultChild as cognito.CfnUserPool).acknowledge(
      {
        id: 'AwsSolutions-COG2',
        reason:
          'MFA is not forced: self sign-up SaaS users sign in with email + a 12-character password with every character class; MFA can be made OPTIONAL/REQUIRED later without replacing the pool.',
      },
      {
        id: 'AwsSolutions-COG8',
        reason:
          'Essentials feature plan on purpose: the Plus plan (threat protection) is billed per MAU; enable it per environment when sign-up abuse justifies the cost.',
      },
    );
    Validations.of(this.stripeSecret).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason:
        'Stripe keys are rolled in the Stripe dashboard (which has no Secrets Manager rotation hook); ops paste the new key here and functions pick it up on their next cold start.',
    });
    Validations.of(this.kofiSecret).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason:
        "Ko-fi issues the verification token on its webhook settings page (no API, no rotation hook); ops paste a regenerated token here and functions pick it up on their next cold start.",
    });
    Validations.of(this.internalApiKeysSecret).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason:
        'Keys are shared with the calling backends, so rotation is a coordinated manual step: add the new key to the list, move callers, then remove the old key (the handlers accept several keys).',
    });
    Validations.of(this.redisAuthSecret).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason:
        'The ElastiCache AUTH token is set on the replication group by CloudFormation; rotating it needs the ROTATE/SET auth-token strategy on the cache, a planned operation, not a Secrets Manager rotation Lambda.',
    });
  }
}
