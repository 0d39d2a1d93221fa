import { CfnOutput, CrossStackReferences, Duration, ReferenceStrength, SecretValue, Stack, type StackProps, Validations } from 'aws-cdk-lib';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as events from 'aws-cdk-lib/aws-events';
import * as eventTargets from 'aws-cdk-lib/aws-events-targets';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as schedulerTargets from 'aws-cdk-lib/aws-scheduler-targets';
import * as apigw from 'aws-cdk-lib/aws-apigateway';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as wafv2 from 'aws-cdk-lib/aws-wafv2';
import type { Construct } from 'constructs';
import { TABLE_LIST } from '../../shared/adapters/dynamodb/tables';
import {
  COGNITO_TRIGGERS,
  FUNCTIONS,
  ROUTES,
  SCHEDULES,
  STREAM_CONSUMERS,
  type FunctionDefinition,
  type FunctionName,
  type HttpMethod,
  type RouteAuth,
  type RouteDefinition,
} from '../../shared/routes';
import { HouseFunction } from '../constructs/house-function';
import { SubscriberCredentialsRole } from '../constructs/subscriber-credentials-role';
import type { AppSettings } from './app-context';
import { pascalCase, type StatefulResources } from './stateful-stack';

export interface StatelessStackProps extends StackProps {
  readonly settings: AppSettings;
  readonly stateful: StatefulResources;
  /** Defaults to the manifest; tests pass variants. */
  readonly functions?: Readonly<Record<FunctionName, FunctionDefinition>>;
  readonly routes?: readonly RouteDefinition[];
}

/** Lets API Gateway require an ACCESS token: id tokens carry no scopes. */
export const ACCESS_TOKEN_SCOPE = 'aws.cognito.signin.user.admin';

/** The contract's error body, for responses API Gateway produces itself. */
export const errorTemplate = (code: string, message: string): string => JSON.stringify({ error: { code, message } });

const MOCK_CONTENT_TYPES = ['application/json', 'application/x-www-form-urlencoded', 'text/plain'];

export const METHOD_NOT_ALLOWED_BODY = errorTemplate('method_not_allowed', 'Method not allowed on this path');

/** Gateway-generated errors in the contract's shape: type, status, code, message. */
export const GATEWAY_RESPONSES: ReadonlyArray<{
  type: apigw.ResponseType;
  id: string;
  /** Unset for the DEFAULT_* catch-alls: the real status (415, 502, 504...) passes through. */
  statusCode?: string;
  code: string;
  message: string;
  headers?: Record<string, string>;
}> = [
  { type: apigw.ResponseType.UNAUTHORIZED, id: 'Unauthorized', statusCode: '401', code: 'unauthorized', message: 'Missing or invalid access token' },
  { type: apigw.ResponseType.ACCESS_DENIED, id: 'AccessDenied', statusCode: '403', code: 'forbidden', message: 'Not allowed' },
  // API Gateway answers unknown paths and methods with "Missing Authentication Token".
  { type: apigw.ResponseType.MISSING_AUTHENTICATION_TOKEN, id: 'NotFound', statusCode: '404', code: 'not_found', message: 'No route for this method and path' },
  { type: apigw.ResponseType.THROTTLED, id: 'Throttled', statusCode: '429', code: 'rate_limited', message: 'Too many requests', headers: { 'Retry-After': "'1'" } },
  { type: apigw.ResponseType.REQUEST_TOO_LARGE, id: 'RequestTooLarge', statusCode: '413', code: 'payload_too_large', message: 'Request body too large' },
  { type: apigw.ResponseType.BAD_REQUEST_BODY, id: 'BadRequestBody', statusCode: '400', code: 'validation_failed', message: 'Invalid request body' },
  { type: apigw.ResponseType.BAD_REQUEST_PARAMETERS, id: 'BadRequestParameters', statusCode: '400', code: 'validation_failed', message: 'Invalid request parameters' },
  { type: apigw.ResponseType.DEFAULT_4XX, id: 'Default4xx', code: 'bad_request', message: 'The request could not be processed' },
  { type: apigw.ResponseType.DEFAULT_5XX, id: 'Default5xx', code: 'internal_error', message: 'Internal server error' },
];

/** Why a route without a Cognito authorizer is still protected (cdk-nag APIG4/COG4). */
const OPEN_ROUTE_REASONS: Record<Exclude<RouteAuth, 'cognito'>, string> = {
  none: 'Public by design in the route manifest (auth "none"): returns no per-user data.',
  'api-key':
    'Server-to-server route: the handler checks x-api-key against the internal keys in Secrets Manager in constant time; callers are backends, not Cognito users.',
  'stripe-signature':
    'Stripe webhook: Stripe cannot present a Cognito token; the handler verifies the Stripe-Signature header over the raw body and rejects anything unsigned.',
  'kofi-token':
    "Ko-fi webhook: Ko-fi cannot present a Cognito token; the handler checks the verification token in the payment against Secrets Manager in constant time and writes nothing for a wrong one.",
};

/**
 * LambdaInvoke, granting the scheduler's role the function itself only:
 * its `grantInvoke` adds every version and alias (`arn:...:*`), a wildcard
 * the schedules do not need (they invoke $LATEST).
 */
class InvokeFunctionOnly extends schedulerTargets.LambdaInvoke {
  constructor(
    private readonly target: lambda.IFunction,
    props: schedulerTargets.ScheduleTargetBaseProps,
  ) {
    super(target, props);
  }

  protected override addTargetActionToRole(role: iam.IRole): void {
    role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['lambda:InvokeFunction'], resources: [this.target.functionArn] }));
  }
}

/**
 * Each public route (no auth, or the Stripe or Ko-fi webhook) gets its own lower
 * limit: a flood there is refused at the gateway before it spends Lambda
 * concurrency the app's routes need. Keys are API Gateway's `/path/METHOD`.
 */
export function publicMethodThrottles(routes: readonly RouteDefinition[], settings: AppSettings): Record<string, apigw.MethodDeploymentOptions> {
  return Object.fromEntries(
    routes
      .filter((route) => route.auth === 'none' || route.auth === 'stripe-signature' || route.auth === 'kofi-token')
      .map((route) => [
        `${route.path}/${route.method}`,
        {
          throttlingRateLimit: settings.publicThrottleRateLimit,
          throttlingBurstLimit: settings.publicThrottleBurstLimit,
          // A method's settings replace the stage's: repeat what every route has.
          metricsEnabled: true,
          loggingLevel: apigw.MethodLoggingLevel.ERROR,
          dataTraceEnabled: false,
        },
      ]),
  );
}

/**
 * Code that can be redeployed or destroyed without losing data: one function
 * per FUNCTIONS entry and one REST API method per ROUTES entry.
 */
export class StatelessStack extends Stack {
  public readonly api: apigw.RestApi;
  public readonly functions: Readonly<Record<string, HouseFunction>>;
  public readonly accessLogGroup: logs.LogGroup;
  /** The subscriber credentials role, by the function that vends it (one today: sts-credentials). */
  public readonly credentialsRoles: Record<string, iam.Role> = {};
  /** The deletion worker's queue and its dead-letter queue (when a function uses them). */
  public deletionQueue?: sqs.Queue;
  public deletionDeadLetters?: sqs.Queue;
  public readonly webAcl: wafv2.CfnWebACL;
  /** Where a table stream's consumer sends the batches it gave up on, by table id. */
  public readonly streamDeadLetters: Record<string, sqs.Queue> = {};
  /** The API destination's secret header value (when context names eventsWebhookUrl). */
  public eventsWebhookSecret?: secretsmanager.Secret;

  constructor(scope: Construct, id: string, props: StatelessStackProps) {
    super(scope, id, props);
    // Strong (export/import) on purpose: CloudFormation then refuses to delete a
    // table, the cache or the user pool while a function here still uses it.
    CrossStackReferences.of(this).consume(ReferenceStrength.STRONG);
    const { settings, stateful } = props;
    const functionDefinitions = props.functions ?? FUNCTIONS;
    const routes = props.routes ?? ROUTES;

    const definitions = Object.values(functionDefinitions);
    const worker = definitions.find((d) => d.deletionQueue === 'consume');
    if (worker) this.createDeletionQueue(worker);
    this.functions = this.createFunctions(props, definitions);
    this.createSchedules(settings, stateful);
    if (settings.eventsWebhookUrl) this.createEventsWebhook(settings.eventsWebhookUrl, stateful);

    this.accessLogGroup = new logs.LogGroup(this, 'ApiAccessLogs', {
      retention: settings.logRetention,
      removalPolicy: settings.removalPolicy,
    });

    this.api = new apigw.RestApi(this, 'Api', {
      restApiName: `entitlements-${settings.stage}`,
      description: 'Entitlements API (routes from shared/routes.ts)',
      endpointTypes: [apigw.EndpointType.REGIONAL],
      // Execution logging (errors only) needs the account-level CloudWatch role.
      cloudWatchRole: true,
      deployOptions: {
        stageName: settings.stage,
        throttlingRateLimit: settings.apiThrottleRateLimit,
        throttlingBurstLimit: settings.apiThrottleBurstLimit,
        methodOptions: publicMethodThrottles(routes, settings),
        metricsEnabled: true,
        loggingLevel: apigw.MethodLoggingLevel.ERROR,
        // Request/response bodies would put tokens and emails in the logs.
        dataTraceEnabled: false,
        accessLogDestination: new apigw.LogGroupLogDestination(this.accessLogGroup),
        accessLogFormat: apigw.AccessLogFormat.custom(
          JSON.stringify({
            requestId: apigw.AccessLogField.contextRequestId(),
            extendedRequestId: apigw.AccessLogField.contextExtendedRequestId(),
            requestTime: apigw.AccessLogField.contextRequestTime(),
            ip: apigw.AccessLogField.contextIdentitySourceIp(),
            userAgent: apigw.AccessLogField.contextIdentityUserAgent(),
            httpMethod: apigw.AccessLogField.contextHttpMethod(),
            resourcePath: apigw.AccessLogField.contextResourcePath(),
            path: apigw.AccessLogField.contextPath(),
            protocol: apigw.AccessLogField.contextProtocol(),
            status: apigw.AccessLogField.contextStatus(),
            responseLength: apigw.AccessLogField.contextResponseLength(),
            responseLatency: apigw.AccessLogField.contextResponseLatency(),
            integrationLatency: apigw.AccessLogField.contextIntegrationLatency(),
            integrationStatus: apigw.AccessLogField.contextIntegrationStatus(),
            errorType: apigw.AccessLogField.contextErrorResponseType(),
            errorMessage: apigw.AccessLogField.contextErrorMessage(),
            authorizerError: apigw.AccessLogField.contextAuthorizerError(),
            // The Cognito sub is an opaque id, not personal data like the email.
            sub: apigw.AccessLogField.contextAuthorizerClaims('sub'),
          }),
        ),
      },
    });

    for (const response of GATEWAY_RESPONSES) {
      this.api.addGatewayResponse(response.id, {
        type: response.type,
        ...(response.statusCode ? { statusCode: response.statusCode } : {}),
        templates: { 'application/json': errorTemplate(response.code, response.message) },
        ...(response.headers ? { responseHeaders: response.headers } : {}),
      });
    }

    this.addRoutes(routes, stateful);
    this.webAcl = this.protectStage(settings);
    this.acknowledgeApiFindings();

    new CfnOutput(this, 'ApiUrl', { value: this.api.url, description: 'Base URL of the API (stage included)' });
  }

  private createFunctions(props: StatelessStackProps, definitions: FunctionDefinition[]): Record<string, HouseFunction> {
    const { settings, stateful } = props;
    const functions: Record<string, HouseFunction> = {};
    const triggers = new Set<string>(Object.values(COGNITO_TRIGGERS));
    for (const def of definitions) {
      // Cognito triggers live beside their user pool in the stateful stack (no cross-stack cycle).
      if (triggers.has(def.name)) continue;
      const fn = new HouseFunction(this, def.name.split('-').map(pascalCase).join(''), {
        definition: def,
        vpc: stateful.vpc,
        logRetention: settings.logRetention,
        removalPolicy: settings.removalPolicy,
        environment: {
          COGNITO_USER_POOL_ID: stateful.userPool.userPoolId,
          COGNITO_CLIENT_IDS: stateful.userPoolClient.userPoolClientId,
          ...settings.functionEnvironment,
        },
        catalogue: settings.catalogue,
      });
      // Every TABLE_* variable is required by the handlers' config; access is per function.
      for (const table of TABLE_LIST) {
        const access = def.tables[table.id];
        if (access) fn.grantTable(table, stateful.tables[table.id], access);
        else fn.exposeTableName(table, stateful.tables[table.id]);
      }
      if (def.redis) fn.useRedis(stateful.cache);
      if (def.internalApiKeys) fn.useInternalApiKeys(stateful.internalApiKeysSecret);
      if (def.stripe) fn.useStripe(stateful.stripeSecret);
      if (def.kofi) fn.useKofi(stateful.kofiSecret);
      if (def.cognitoAdmin) fn.allowUserDeletion(stateful.userPool);
      if (def.deletionQueue) {
        if (!this.deletionQueue) throw new Error(`${def.name} uses the deletion queue, but no function consumes it`);
        fn.useDeletionQueue(this.deletionQueue, def.deletionQueue);
      }
      if (def.identitySweep) fn.allowIdentitySweep(stateful.userPool, stateful.tables.users);
      if (def.cognitoEmail) fn.allowEmailChange(stateful.userPool);
      if (def.eventBus) fn.useEventBus(stateful.eventBus);
      for (const [tableId, consumer] of Object.entries(STREAM_CONSUMERS)) {
        if (consumer === def.name) fn.consumeTableStream(stateful.tables[tableId as keyof typeof stateful.tables], this.createStreamDeadLetters(tableId));
      }
      if (def.awsCredentials) this.credentialsRoles[def.name] = new SubscriberCredentialsRole(this, 'SubscriberCredentials', { vendor: fn }).role;
      functions[def.name] = fn;
    }
    return functions;
  }

  /**
   * One EventBridge Scheduler schedule per SCHEDULES entry whose function is
   * in this stack, with the expression from context. The scheduler invokes
   * asynchronously: Lambda's own retries handle a failed run (the next run
   * resumes from the stored cursors); what the scheduler cannot deliver goes
   * to the dead-letter queue.
   */
  private createSchedules(settings: AppSettings, stateful: StatefulResources): void {
    for (const [name, schedule] of Object.entries(SCHEDULES) as Array<[keyof typeof SCHEDULES, (typeof SCHEDULES)[keyof typeof SCHEDULES]]>) {
      const fn = this.functions[schedule.handler];
      if (!fn) continue;
      new scheduler.Schedule(this, `${name.split('-').map(pascalCase).join('')}Schedule`, {
        description: schedule.description,
        schedule: scheduler.ScheduleExpression.expression(settings.schedules[name]),
        target: new InvokeFunctionOnly(fn.function, {
          input: scheduler.ScheduleTargetInput.fromObject(schedule.input),
          deadLetterQueue: stateful.scheduleDeadLetterQueue,
          retryAttempts: 2,
          // A run that could not start within the hour is superseded by the next one.
          maxEventAge: Duration.hours(1),
        }),
      });
    }
  }

  /**
   * The queue that drives the deletion worker, with a DLQ after 5 receives,
   * and the EventBridge rule that puts every Cognito `DeleteUser` call (a user
   * deleting themself with their own access token) on it, so the worker runs
   * the identity sweep. CloudTrail delivers these events to EventBridge only
   * when the account has a trail logging management events, and on a best
   * effort basis: the scheduled sweep stays the guarantee.
   */
  private createDeletionQueue(worker: FunctionDefinition): void {
    // The id ends in DeadLetterQueue: the operations stack alarms on every queue named so.
    this.deletionDeadLetters = new sqs.Queue(this, 'DeletionDeadLetterQueue', {
      retentionPeriod: Duration.days(14),
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
    });
    Validations.of(this.deletionDeadLetters).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason: 'This is the dead-letter queue of the deletion queue; its messages are inspected and redriven by an operator, an alarm fires on the first one.',
    });
    this.deletionQueue = new sqs.Queue(this, 'DeletionQueue', {
      // AWS's advice for a Lambda event source: at least six times the function timeout.
      visibilityTimeout: Duration.seconds(6 * (worker.timeoutSeconds ?? 10)),
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      deadLetterQueue: { queue: this.deletionDeadLetters, maxReceiveCount: 5 },
    });
    new events.Rule(this, 'CognitoSelfDeletionRule', {
      description: 'A Cognito user deleted themself (DeleteUser with their access token): run the identity sweep.',
      eventPattern: {
        source: ['aws.cognito-idp'],
        detailType: ['AWS API Call via CloudTrail'],
        detail: { eventSource: ['cognito-idp.amazonaws.com'], eventName: ['DeleteUser'] },
      },
      targets: [new eventTargets.SqsQueue(this.deletionQueue)],
    });
  }

  private createStreamDeadLetters(tableId: string): sqs.Queue {
    // The alarms find every dead-letter queue by the `DeadLetterQueue` suffix of its construct id.
    const queue = new sqs.Queue(this, `${pascalCase(tableId)}StreamDeadLetterQueue`, {
      retentionPeriod: Duration.days(14),
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
    });
    Validations.of(queue).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason: 'This is itself a dead-letter queue: it receives the descriptions of stream batches the consumer gave up on; an operator replays them from the stream.',
    });
    this.streamDeadLetters[tableId] = queue;
    return queue;
  }

  /**
   * entitlement.changed for apps that do not live on AWS: a rule on the bus
   * sends each event's detail to the URL through an API destination. The
   * connection adds a header holding a generated secret (EventBridge cannot
   * compute a per-message HMAC): the receiver compares it in constant time.
   */
  private createEventsWebhook(url: string, stateful: StatefulResources): void {
    this.eventsWebhookSecret = new secretsmanager.Secret(this, 'EventsWebhookSecret', {
      description: 'Value of the x-entitlements-events-key header the API destination sends with each entitlement.changed event.',
      generateSecretString: { passwordLength: 48, excludePunctuation: true },
    });
    Validations.of(this.eventsWebhookSecret).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason: 'Shared with the receiving app: rotation is a coordinated manual step (the receiver accepts the new value first), not a rotation Lambda.',
    });
    const connection = new events.Connection(this, 'EventsWebhookConnection', {
      description: 'entitlement.changed webhook: secret header',
      authorization: events.Authorization.apiKey('x-entitlements-events-key', SecretValue.secretsManager(this.eventsWebhookSecret.secretArn)),
    });
    const destination = new events.ApiDestination(this, 'EventsWebhookDestination', {
      description: 'POSTs entitlement.changed (the detail, as JSON) to the eventsWebhookUrl of the context',
      connection,
      endpoint: url,
      httpMethod: events.HttpMethod.POST,
      rateLimitPerSecond: 50,
    });
    new events.Rule(this, 'EventsWebhookRule', {
      description: 'Every entitlement.changed event to the webhook (API destination)',
      eventBus: stateful.eventBus,
      eventPattern: { source: ['entitlements'], detailType: ['entitlement.changed'] },
      targets: [
        new eventTargets.ApiDestination(destination, {
          event: events.RuleTargetInput.fromEventPath('$.detail'),
          deadLetterQueue: this.createWebhookDeadLetters(),
          retryAttempts: 185,
          maxEventAge: Duration.hours(24),
        }),
      ],
    });
  }

  private createWebhookDeadLetters(): sqs.Queue {
    const queue = new sqs.Queue(this, 'EventsWebhookDeadLetterQueue', {
      retentionPeriod: Duration.days(14),
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
    });
    Validations.of(queue).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason: 'This is itself a dead-letter queue: events the webhook refused for 24 hours land here with the error; an operator resends them.',
    });
    return queue;
  }

  private addRoutes(routes: readonly RouteDefinition[], stateful: StatefulResources): void {
    // Created only when a route needs it: an authorizer attached to no method fails validation.
    let authorizer: apigw.CognitoUserPoolsAuthorizer | undefined;
    const cognitoAuthorizer = (): apigw.CognitoUserPoolsAuthorizer =>
      (authorizer ??= new apigw.CognitoUserPoolsAuthorizer(this, 'CognitoAuthorizer', {
        cognitoUserPools: [stateful.userPool],
        identitySource: apigw.IdentitySource.header('Authorization'),
      }));

    const integrations = new Map<FunctionName, apigw.LambdaIntegration>();
    const integrationFor = (name: FunctionName): apigw.LambdaIntegration => {
      const fn = this.functions[name];
      if (!fn) throw new Error(`Route handler "${name}" has no entry in FUNCTIONS`);
      let integration = integrations.get(name);
      if (!integration) {
        integration = new apigw.LambdaIntegration(fn.function, { proxy: true, allowTestInvoke: false });
        integrations.set(name, integration);
      }
      return integration;
    };

    const methodsByPath = new Map<string, HttpMethod[]>();
    for (const route of routes) {
      const resource = this.api.root.resourceForPath(route.path);
      const options: apigw.MethodOptions =
        route.auth === 'cognito'
          ? {
              authorizer: cognitoAuthorizer(),
              authorizationType: apigw.AuthorizationType.COGNITO,
              authorizationScopes: [ACCESS_TOKEN_SCOPE],
            }
          : { authorizationType: apigw.AuthorizationType.NONE };
      const method = resource.addMethod(route.method, integrationFor(route.handler), options);
      if (route.auth !== 'cognito') this.acknowledgeOpenMethod(method, OPEN_ROUTE_REASONS[route.auth]);
      methodsByPath.set(route.path, [...(methodsByPath.get(route.path) ?? []), route.method]);
    }

    // Any other method on a known path gets the contract's 405, not API Gateway's 403/404.
    for (const [routePath, allowed] of methodsByPath) {
      const method = this.api.root.resourceForPath(routePath).addMethod(
        'ANY',
        new apigw.MockIntegration({
          // A mock needs its request mapped to {"statusCode": ...}: map the usual
          // body types (curl -d sends form encoding); any other type gets a 415.
          requestTemplates: Object.fromEntries(MOCK_CONTENT_TYPES.map((type) => [type, '{"statusCode": 405}'])),
          passthroughBehavior: apigw.PassthroughBehavior.NEVER,
          integrationResponses: [
            {
              statusCode: '405',
              responseTemplates: { 'application/json': METHOD_NOT_ALLOWED_BODY },
              responseParameters: { 'method.response.header.Allow': `'${allowed.join(', ')}'` },
            },
          ],
        }),
        {
          authorizationType: apigw.AuthorizationType.NONE,
          methodResponses: [{ statusCode: '405', responseParameters: { 'method.response.header.Allow': true } }],
        },
      );
      this.acknowledgeOpenMethod(method, 'Mock integration that only answers 405 method_not_allowed; it reaches no backend and returns no data.');
    }
  }

  private acknowledgeOpenMethod(method: apigw.Method, reason: string): void {
    Validations.of(method).acknowledge({ id: 'AwsSolutions-APIG4', reason }, { id: 'AwsSolutions-COG4', reason });
  }

  /**
   * A regional web ACL on the stage: AWS's common rule set (bad inputs,
   * known exploit patterns) and a per-IP rate rule, so a single client is
   * cut off at the edge before the stage throttle refuses everyone.
   */
  private protectStage(settings: AppSettings): wafv2.CfnWebACL {
    const visibility = (metricName: string): wafv2.CfnWebACL.VisibilityConfigProperty => ({
      cloudWatchMetricsEnabled: true,
      sampledRequestsEnabled: true,
      metricName,
    });
    const hasApiKeyHeader: wafv2.CfnWebACL.StatementProperty = {
      sizeConstraintStatement: { fieldToMatch: { singleHeader: { Name: 'x-api-key' } }, comparisonOperator: 'GT', size: 0, textTransformations: [{ priority: 0, type: 'NONE' }] },
    };
    const webAcl = new wafv2.CfnWebACL(this, 'WebAcl', {
      scope: 'REGIONAL',
      defaultAction: { allow: {} },
      visibilityConfig: visibility(`entitlements-${settings.stage}-waf`),
      rules: [
        {
          name: 'AWSManagedRulesCommonRuleSet',
          priority: 0,
          overrideAction: { none: {} },
          statement: {
            managedRuleGroupStatement: {
              vendorName: 'AWS',
              name: 'AWSManagedRulesCommonRuleSet',
              // The set blocks bodies over 8 KB; Stripe events (an invoice with many lines) can be larger
              // and are signed, and API Gateway already caps bodies. Counted, not blocked.
              ruleActionOverrides: [{ name: 'SizeRestrictions_BODY', actionToUse: { count: {} } }],
            },
          },
          visibilityConfig: visibility('common-rule-set'),
        },
        // Browsers and the public: the per-IP limit. App backends (x-api-key) call from a few NAT
        // addresses once per end-user request, so they get their own, higher limit; a forged header
        // only moves a flood to that limit (and the handler's constant-time key check answers 401).
        {
          name: 'RequestsPerIp',
          priority: 1,
          action: { block: {} },
          statement: {
            rateBasedStatement: {
              aggregateKeyType: 'IP',
              limit: settings.wafRequestsPerIpPer5Minutes,
              scopeDownStatement: { notStatement: { statement: hasApiKeyHeader } },
            },
          },
          visibilityConfig: visibility('requests-per-ip'),
        },
        {
          name: 'BackendRequestsPerIp',
          priority: 2,
          action: { block: {} },
          statement: { rateBasedStatement: { aggregateKeyType: 'IP', limit: settings.wafBackendRequestsPerIpPer5Minutes, scopeDownStatement: hasApiKeyHeader } },
          visibilityConfig: visibility('backend-requests-per-ip'),
        },
      ],
    });
    new wafv2.CfnWebACLAssociation(this, 'WebAclAssociation', {
      resourceArn: this.api.deploymentStage.stageArn,
      webAclArn: webAcl.attrArn,
    });
    return webAcl;
  }

  private acknowledgeApiFindings(): void {
    Validations.of(this.api.node.defaultChild as apigw.CfnRestApi).acknowledge({
      id: 'AwsSolutions-APIG2',
      reason:
        "Bodies, paths and queries are validated by each handler with zod (shared/http), which returns the contract's 400 naming the field; a gateway model would duplicate those schemas.",
    });
    const cloudWatchRole = this.api.node.tryFindChild('CloudWatchRole');
    if (cloudWatchRole) {
      Validations.of(cloudWatchRole).acknowledge({
        id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]',
        reason:
          'Account-level role API Gateway uses to write execution logs; this AWS-managed policy is the documented one for it and grants nothing else.',
      });
    }
  }
}
