import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as kms from 'aws-cdk-lib/aws-kms';
import { MetricStore } from '../../lib/constructs/metric-store';
import { nagErrors } from './support';

describe('MetricStore', () => {
  let stack: Stack;
  let template: Template;
  let key: kms.Key;
  beforeAll(() => {
    stack = new Stack(new App(), 'Test');
    key = new kms.Key(stack, 'Key', { enableKeyRotation: true });
    new MetricStore(stack, 'Store', { encryptionKey: key });
    template = Template.fromStack(stack);
  });

  test('database is encrypted with the data key and retained', () => {
    template.hasResource('AWS::Timestream::Database', {
      DeletionPolicy: 'Retain',
      Properties: { KmsKeyId: { 'Fn::GetAtt': [stack.getLogicalId(key.node.defaultChild as kms.CfnKey), 'Arn'] } },
    });
  });

  test('llm_calls and sensor_health tables with retention and magnetic writes', () => {
    const tables = Object.values(template.findResources('AWS::Timestream::Table')) as any[];
    expect(tables.map((table) => table.Properties.TableName).sort()).toEqual(['llm_calls', 'sensor_health']);
    for (const table of tables) {
      expect(table.DeletionPolicy).toBe('Retain');
      expect(table.Properties.RetentionProperties).toEqual({ MemoryStoreRetentionPeriodInHours: '24', MagneticStoreRetentionPeriodInDays: '365' });
      expect(table.Properties.MagneticStoreWriteProperties).toEqual({ EnableMagneticStoreWrites: true });
    }
  });

  test('cdk-nag AwsSolutions: no unacknowledged error', () => {
    expect(nagErrors(stack)).toEqual([]);
  });
});
