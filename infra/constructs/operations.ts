import { Duration, type Stack, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as apigw from 'aws-cdk-lib/aws-apigateway';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct, type IConstruct } from 'constructs';
import type { BusinessMetric } from '../../shared/observability/metrics';
import { COGNITO_TRIGGERS } from '../../shared/routes';
import { HouseFunction, SERVICE_NAME } from './house-function';

export interface OperationsProps {
  /** Stacks whose functions and dead-letter queues are watched: everything built, whoever added it. */
  readonly watched: readonly Stack[];
  readonly api: apigw.RestApi;
  readonly tables: Readonly<Record<string, dynamodb.ITable>>;
  readonly alarmEmail: string | undefined;
  readonly stage: string;
}

/** Dead-letter queues are recognised by their construct id (the agreed naming). */
export const DEAD_LETTER_QUEUE_SUFFIX = 'DeadLetterQueue';

const FIVE_MINUTES = Duration.minutes(5);

/**
 * The operations read per table: ThrottledRequests and SystemErrors are only
 * published per operation, and an alarm's math takes at most 10 metrics.
 */
const TABLE_OPERATIONS = [
  dynamodb.Operation.GET_ITEM,
  dynamodb.Operation.BATCH_GET_ITEM,
  dynamodb.Operation.QUERY,
  dynamodb.Operation.SCAN,
  dynamodb.Operation.PUT_ITEM,
  dynamodb.Operation.UPDATE_ITEM,
  dynamodb.Operation.DELETE_ITEM,
  dynamodb.Operation.BATCH_WRITE_ITEM,
  dynamodb.Operation.TRANSACT_WRITE_ITEMS,
  dynamodb.Operation.TRANSACT_GET_ITEMS,
];

/** A count our code publishes through Powertools Metrics (EMF): the namespace and the `service` dimension it adds. */
export function businessMetric(name: BusinessMetric, period: Duration = FIVE_MINUTES): cloudwatch.Metric {
  return new cloudwatch.Metric({
    namespace: SERVICE_NAME,
    metricName: name,
    dimensionsMap: { service: SERVICE_NAME },
    statistic: cloudwatch.Stats.SUM,
    period,
  });
}

/**
 * Every alarm of the service, one SNS topic they all notify (ALARM and OK),
 * and one dashboard. Functions and dead-letter queues are found in the
 * watched stacks when this is built, so a function or queue added anywhere is
 * covered without an edit here. Each description says why it pages and what
 * to do; README "Alarms and dashboard" lists them with their thresholds.
 */
export class Operations extends Construct {
  public readonly alarmTopic: sns.Topic;
  public readonly dashboard: cloudwatch.Dashboard;
  public readonly alarms: cloudwatch.Alarm[] = [];

  constructor(scope: Construct, id: string, props: OperationsProps) {
    super(scope, id);
    this.alarmTopic = new sns.Topic(this, 'AlarmTopic', {
      displayName: `Entitlements alarms (${props.stage})`,
      enforceSSL: true,
    });
    if (props.alarmEmail) this.alarmTopic.addSubscription(new subscriptions.EmailSubscription(props.alarmEmail));
    Validations.of(this.alarmTopic).acknowledge({
      id: 'AwsSolutions-SNS2',
      reason: 'Alarm notifications carry alarm names and states only, no customer data; an AWS-managed SNS key cannot be used by CloudWatch alarms without a customer key policy.',
    });

    const functions = props.watched.flatMap((stack) => stack.node.findAll().filter((c): c is HouseFunction => c instanceof HouseFunction));
    const deadLetterQueues = props.watched.flatMap((stack) =>
      stack.node.findAll().filter((c: IConstruct): c is sqs.Queue => c instanceof sqs.Queue && c.node.id.endsWith(DEAD_LETTER_QUEUE_SUFFIX)),
    );

    for (const fn of functions) this.watchFunction(fn);
    this.watchApi(props.api);
    for (const [id, table] of Object.entries(props.tables)) this.watchTable(id, table);
    for (const queue of deadLetterQueues) this.watchDeadLetterQueue(queue);
    this.watchBusinessMetrics();

    this.dashboard = this.buildDashboard(props, functions, deadLetterQueues);
  }

  private alarm(id: string, props: cloudwatch.AlarmProps): cloudwatch.Alarm {
    const alarm = new cloudwatch.Alarm(this, id, props);
    alarm.addAlarmAction(new actions.SnsAction(this.alarmTopic));
    alarm.addOkAction(new actions.SnsAction(this.alarmTopic));
    this.alarms.push(alarm);
    return alarm;
  }

  private watchFunction(fn: HouseFunction): void {
    const name = fn.definition.name;
    const id = fn.node.id;
    const isTrigger = Object.values(COGNITO_TRIGGERS).includes(name);
    const timeoutMs = (fn.definition.timeoutSeconds ?? 10) * 1000;
    this.alarm(`${id}Errors`, {
      alarmDescription: isTrigger
        ? `Cognito ${name} trigger failed: a user confirmed sign-up but has no profile, entitlement row or Stripe customer. Read the function's log group for the error; the confirmation is not retried by Cognito, so fix the cause and let the identity sweep (reconcile) repair the user.`
        : `${name} crashed or timed out (handled errors are not counted: a Lambda error is a bug or a hung dependency). Read the function's log group for the request id and stack; check the dependency alarms first.`,
      metric: fn.function.metricErrors({ period: FIVE_MINUTES, statistic: cloudwatch.Stats.SUM }),
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    this.alarm(`${id}Throttles`, {
      alarmDescription:
        fn.definition.reservedConcurrency !== undefined
          ? `${name} hit its reserved concurrency (${fn.definition.reservedConcurrency}), the cap that keeps a flood from starving other functions. If the load is legitimate, raise reservedConcurrency in shared/routes.ts; if not, check WAF's blocked requests.`
          : `${name} was throttled: the account's concurrency is exhausted. Find the function taking it (dashboard, concurrent executions) and cap it, or ask AWS for a higher limit.`,
      metric: fn.function.metricThrottles({ period: FIVE_MINUTES, statistic: cloudwatch.Stats.SUM }),
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    this.alarm(`${id}Duration`, {
      alarmDescription: `${name}'s p99 duration is above 80% of its ${timeoutMs / 1000} s timeout: the slowest calls are about to time out (a slow dependency, or a client timeout too close to the function's). Check the dependency latency on the dashboard.`,
      metric: fn.function.metricDuration({ period: FIVE_MINUTES, statistic: cloudwatch.Stats.p(99) }),
      threshold: Math.round(timeoutMs * 0.8),
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 3,
      datapointsToAlarm: 2,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
  }

  private watchApi(api: apigw.RestApi): void {
    const serverErrors = api.metricServerError({ period: FIVE_MINUTES, statistic: cloudwatch.Stats.SUM });
    const requests = api.metricCount({ period: FIVE_MINUTES, statistic: cloudwatch.Stats.SUM });
    this.alarm('ApiServerErrorRate', {
      alarmDescription:
        'More than 5% of API requests got a 5xx over 10 minutes (at least 20 requests per 5 minutes, so a single error at night does not page). 503s mean a dependency is down: check the DynamoDB, cache and Stripe panels; 500s are bugs: search the functions\' logs for the request ids in the access log.',
      metric: new cloudwatch.MathExpression({
        expression: 'IF(requests >= 20, 100 * errors / requests, 0)',
        usingMetrics: { errors: serverErrors, requests },
        label: '5xx rate (%)',
        period: FIVE_MINUTES,
      }),
      threshold: 5,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 2,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    this.alarm('ApiLatencyP99', {
      alarmDescription:
        'API p99 latency is above 3 s (the contract answers a hung dependency with a 503 within a few seconds): a dependency is slow, or cold starts pile up. Compare IntegrationLatency with Latency on the dashboard; check the functions\' p99 duration.',
      metric: api.metricLatency({ period: FIVE_MINUTES, statistic: cloudwatch.Stats.p(99) }),
      threshold: 3000,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 3,
      datapointsToAlarm: 2,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
  }

  private watchTable(id: string, table: dynamodb.ITable): void {
    const name = id.charAt(0).toUpperCase() + id.slice(1);
    this.alarm(`${name}TableThrottledRequests`, {
      alarmDescription: `DynamoDB throttled requests on the ${id} table (on-demand tables throttle on a hot key or a sudden jump past twice the previous peak). Callers get 503s and retry; find the hot partition with CloudWatch Contributor Insights, or pre-warm with a higher table throughput.`,
      metric: table.metricThrottledRequestsForOperations({ operations: TABLE_OPERATIONS, period: FIVE_MINUTES }),
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    this.alarm(`${name}TableSystemErrors`, {
      alarmDescription: `DynamoDB returned 5xx for the ${id} table: an AWS-side problem. Requests fail with 503 and are retried by the SDK; check the AWS Health Dashboard for DynamoDB in this region; nothing to repair unless it lasts.`,
      metric: table.metricSystemErrorsForOperations({ operations: TABLE_OPERATIONS, period: FIVE_MINUTES }),
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
  }

  private watchDeadLetterQueue(queue: sqs.Queue): void {
    // The path keeps ids unique when two stacks name a queue alike.
    this.alarm(`${queue.node.path.replace(/[^A-Za-z0-9]/g, '')}Depth`, {
      alarmDescription: `A message reached ${queue.node.path} after every retry: work was given up (a deletion step, an event). Read the message and its function's logs for the cause, fix it, then redrive the queue from the SQS console ("Start DLQ redrive").`,
      metric: queue.metricApproximateNumberOfMessagesVisible({ period: FIVE_MINUTES, statistic: cloudwatch.Stats.MAXIMUM }),
      threshold: 0,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
  }

  private watchBusinessMetrics(): void {
    const page = (metric: BusinessMetric, period: Duration, alarmDescription: string) =>
      this.alarm(`${metric}Alarm`, {
        alarmDescription,
        metric: businessMetric(metric, period),
        threshold: 0,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
    page(
      'WebhookFailed',
      FIVE_MINUTES,
      'A Stripe webhook failed with a 500 (Stripe retries it for 3 days): a dependency was down or a bug. Read the stripe-webhook logs for the event id; once fixed, Stripe\'s retries or reconciliation apply it.',
    );
    page(
      'ReconcileRepairs',
      Duration.hours(1),
      'Reconciliation repaired drift (a lost webhook, a missed Cognito deletion): the data is right again, but something upstream loses changes. Read the reconcile logs for each repair\'s cause and check Stripe\'s webhook delivery log.',
    );
    page(
      'UnknownStripePrice',
      FIVE_MINUTES,
      'A subscription uses a Stripe price missing from the catalogue; the customer kept their previous tier. Add the price to its plan (stripePrices) in the catalogue file and redeploy; reconciliation then applies it.',
    );
  }

  private buildDashboard(props: OperationsProps, functions: HouseFunction[], deadLetterQueues: sqs.Queue[]): cloudwatch.Dashboard {
    const dashboard = new cloudwatch.Dashboard(this, 'Dashboard', { dashboardName: `entitlements-${props.stage}` });
    const api = props.api;
    const graph = (title: string, left: cloudwatch.IMetric[], right: cloudwatch.IMetric[] = []) =>
      new cloudwatch.GraphWidget({ title, left, right, width: 12, height: 6 });
    const sum = { period: FIVE_MINUTES, statistic: cloudwatch.Stats.SUM };
    const hits = businessMetric('CacheHit');
    const misses = businessMetric('CacheMiss');

    dashboard.addWidgets(new cloudwatch.AlarmStatusWidget({ title: 'Alarms', alarms: this.alarms, width: 24, height: 4 }));
    dashboard.addWidgets(
      graph('API requests and errors', [api.metricCount(sum), api.metricClientError(sum), api.metricServerError(sum)]),
      graph('API latency (p50, p99)', [
        api.metricLatency({ period: FIVE_MINUTES, statistic: cloudwatch.Stats.p(50) }),
        api.metricLatency({ period: FIVE_MINUTES, statistic: cloudwatch.Stats.p(99) }),
        api.metricIntegrationLatency({ period: FIVE_MINUTES, statistic: cloudwatch.Stats.p(99) }),
      ]),
    );
    dashboard.addWidgets(
      graph('Function errors', functions.map((fn) => fn.function.metricErrors({ ...sum, label: fn.definition.name }))),
      graph('Function p99 duration', functions.map((fn) => fn.function.metricDuration({ period: FIVE_MINUTES, statistic: cloudwatch.Stats.p(99), label: fn.definition.name }))),
    );
    dashboard.addWidgets(
      graph('Webhook outcomes', (['WebhookApplied', 'WebhookDuplicate', 'WebhookIgnored', 'WebhookFailed'] as const).map((m) => businessMetric(m))),
      graph('Tokens', [businessMetric('TokensConsumed'), businessMetric('InsufficientTokens')]),
    );
    dashboard.addWidgets(
      graph(
        'Cache hit ratio and breaker',
        [new cloudwatch.MathExpression({ expression: 'IF(hits + misses > 0, 100 * hits / (hits + misses), 0)', usingMetrics: { hits, misses }, label: 'hit ratio (%)', period: FIVE_MINUTES })],
        [businessMetric('CircuitBreakerOpened')],
      ),
      graph('Events and reconciliation', (['EntitlementEventsPublished', 'EntitlementEventsFailed', 'ReconcileRepairs', 'ReconcileFailures', 'UnknownStripePrice'] as const).map((m) => businessMetric(m))),
    );
    // One graph per table and metric: two per-operation sums in one graph would share metric ids.
    const tableGraph = (title: string, metric: cloudwatch.IMetric) => new cloudwatch.GraphWidget({ title, left: [metric], width: 4, height: 5 });
    const tables = Object.entries(props.tables);
    dashboard.addWidgets(
      ...tables.map(([id, table]) => tableGraph(`${id}: throttled`, table.metricThrottledRequestsForOperations({ operations: TABLE_OPERATIONS, period: FIVE_MINUTES }))),
    );
    dashboard.addWidgets(
      ...tables.map(([id, table]) => tableGraph(`${id}: system errors`, table.metricSystemErrorsForOperations({ operations: TABLE_OPERATIONS, period: FIVE_MINUTES }))),
    );
    dashboard.addWidgets(
      graph('Dead-letter queues', deadLetterQueues.map((q) => q.metricApproximateNumberOfMessagesVisible({ period: FIVE_MINUTES, statistic: cloudwatch.Stats.MAXIMUM, label: q.node.id }))),
    );
    return dashboard;
  }
}
