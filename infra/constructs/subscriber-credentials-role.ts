import { Duration, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { CREDENTIAL_ACTIONS, MAX_CREDENTIAL_DURATION_SECONDS } from '../../shared/domain/aws-credentials';
import type { HouseFunction } from './house-function';

/**
 * The role subscribers' temporary credentials are cut from. Only the vending
 * function's role may assume it (and must name a source identity, which it
 * may set: sts:SetSourceIdentity); it allows only the speech-to-text actions
 * of CREDENTIAL_ACTIONS, and sessions last at most an hour. Each session is
 * further narrowed by the session policy the function passes to AssumeRole.
 */
export class SubscriberCredentialsRole extends Construct {
  public readonly role: iam.Role;

  constructor(scope: Construct, id: string, props: { vendor: HouseFunction }) {
    super(scope, id);
    const vendorRole = props.vendor.function.role;
    if (!vendorRole) throw new Error('the credentials vendor function has no role');
    const vendorPrincipal = new iam.ArnPrincipal(vendorRole.roleArn);

    this.role = new iam.Role(this, 'Role', {
      description: 'Temporary credentials for subscribers: Amazon Transcribe streaming only, assumed by the sts-credentials function.',
      // AssumeRole only with a source identity, so every session names its user in CloudTrail.
      assumedBy: vendorPrincipal.withConditions({ Null: { 'sts:SourceIdentity': 'false' } }),
      maxSessionDuration: Duration.seconds(MAX_CREDENTIAL_DURATION_SECONDS),
    });
    this.role.assumeRolePolicy?.addStatements(
      new iam.PolicyStatement({ actions: ['sts:SetSourceIdentity'], principals: [vendorPrincipal] }),
    );
    const permissions = new iam.Policy(this, 'SpeechToText', {
      statements: [new iam.PolicyStatement({ sid: 'SpeechToText', actions: [...CREDENTIAL_ACTIONS], resources: ['*'] })],
    });
    permissions.attachToRole(this.role);
    Validations.of(permissions).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'Amazon Transcribe streaming actions (StartStreamTranscription, StartStreamTranscriptionWebSocket) support no resource-level permissions, so IAM requires Resource "*"; the actions are the only two allowed and every session is narrowed further by a session policy.',
    });

    props.vendor.allowCredentialVending(this.role);
  }
}
