import { Stack, type StackProps } from 'aws-cdk-lib';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type { Construct } from 'constructs';
import { Operations } from '../constructs/operations';
import type { AppSettings } from './app-context';
import type { StatefulStack } from './stateful-stack';
import type { StatelessStack } from './stateless-stack';

export interface OperationsStackProps extends StackProps {
  readonly settings: AppSettings;
  readonly stateful: StatefulStack;
  readonly stateless: StatelessStack;
}

/**
 * Alarms, their topic and the dashboard: holds no data and no code, so it
 * can be redeployed (or torn down) without touching the service. Built last,
 * so it sees every function and queue the other stacks made.
 */
export class OperationsStack extends Stack {
  public readonly alarmTopic: sns.Topic;
  public readonly operations: Operations;

  constructor(scope: Construct, id: string, props: OperationsStackProps) {
    super(scope, id, props);
    this.operations = new Operations(this, 'Operations', {
      watched: [props.stateful, props.stateless],
      api: props.stateless.api,
      tables: props.stateful.tables,
      alarmEmail: props.settings.alarmEmail,
      stage: props.settings.stage,
    });
    this.alarmTopic = this.operations.alarmTopic;
  }
}
