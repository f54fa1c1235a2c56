import { CfnOutput, Fn, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import * as organizations from 'aws-cdk-lib/aws-organizations';
import type { Construct } from 'constructs';

export interface DataPlaneAccountStackProps extends StackProps {
  /** Root e-mail address of the new account; must be unused across AWS. */
  readonly accountEmail: string;
  /**
   * Account name shown in the organization.
   * @default 'sightline-data-plane'
   */
  readonly accountName?: string;
  /**
   * Root or OU id the account is placed in.
   * @default - the organization root
   */
  readonly parentId?: string;
}

/**
 * Creates the dedicated data-plane sub-account from the organization's management account. Deploy it once;
 * then bootstrap the new account and deploy the data-plane stack into it.
 */
export class DataPlaneAccountStack extends Stack {
  readonly dataPlaneAccount: organizations.CfnAccount;

  constructor(scope: Construct, id: string, props: DataPlaneAccountStackProps) {
    super(scope, id, props);
    this.dataPlaneAccount = new organizations.CfnAccount(this, 'DataPlaneAccount', {
      accountName: props.accountName ?? 'sightline-data-plane',
      email: props.accountEmail,
      parentIds: props.parentId === undefined ? undefined : [props.parentId],
      // OrganizationAccountAccessRole lets the management account bootstrap the new account.
      roleName: 'OrganizationAccountAccessRole',
    });
    // Closing an account is never a side effect of a stack deletion.
    this.dataPlaneAccount.applyRemovalPolicy(RemovalPolicy.RETAIN);
    new CfnOutput(this, 'DataPlaneAccountId', {
      description: 'Pass as -c sightline:dataPlaneAccount=... when deploying the data plane',
      value: this.dataPlaneAccount.attrAccountId,
    });
    // A new account can no longer create Timestream for LiveAnalytics (closed to new customers since 2025-06-20).
    new CfnOutput(this, 'NextStep', {
      description: 'With credentials for the new account: bootstrap it, then deploy the data plane CloudWatch-only',
      value: Fn.join('', [
        'npx cdk bootstrap aws://', this.dataPlaneAccount.attrAccountId, '/', this.region,
        ' && npx cdk deploy -c sightline:topology=data-plane -c sightline:dataPlaneAccount=', this.dataPlaneAccount.attrAccountId,
        ' -c sightline:region=', this.region, ' -c sightline:timestream=false',
      ]),
    });
  }
}
