import { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { parse } from 'yaml';
import { SensorStack } from '../../lib/sensor-stack';
import { parseConfig } from '../../sensor/config/load-config';
import { nagErrors } from './support';

describe('SensorStack on an existing cluster', () => {
  let stack: SensorStack;
  let template: Template;
  let manifest: any[];
  beforeAll(() => {
    stack = new SensorStack(new App(), 'Sensor', {
      env: { account: '444455556666', region: 'eu-west-1' },
      cluster: { existingClusterName: 'workloads-prod' },
      gatewayEndpoint: 'http://vpce-0123.sightline.internal:4318',
      image: 'public.ecr.aws/example/sightline:1.0.0',
    });
    template = Template.fromStack(stack);
    const resource = Object.values(template.findResources('Custom::AWSCDK-EKS-KubernetesResource'))[0] as any;
    manifest = JSON.parse(resource.Properties.Manifest);
  });

  test('applies the sensor chart to the named cluster', () => {
    template.hasResourceProperties('Custom::AWSCDK-EKS-KubernetesResource', { ClusterName: 'workloads-prod', Overwrite: true });
    const daemonSet = manifest.find((object) => object.kind === 'DaemonSet');
    expect(daemonSet.spec.template.spec.containers[0].args).toEqual(['sensor', '--config', '/etc/sightline/config.yaml']);
    const config = parseConfig(parse(manifest.find((object) => object.kind === 'ConfigMap').data['config.yaml']));
    expect(config.exporters.otlp).toMatchObject({ enabled: true, endpoint: 'http://vpce-0123.sightline.internal:4318' });
    expect(config.enrichment.kubernetes.clusterName).toBe('workloads-prod');
  });

  test('its kubectl provider gets cluster access through an access entry', () => {
    template.hasResourceProperties('AWS::EKS::AccessEntry', {
      ClusterName: 'workloads-prod',
      AccessPolicies: [Match.objectLike({ AccessScope: { Type: 'cluster' } })],
    });
  });

  test('cdk-nag AwsSolutions: no unacknowledged error', () => {
    expect(nagErrors(stack)).toEqual([]);
  });
});
