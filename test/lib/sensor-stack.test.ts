import { App } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { parse } from 'yaml';
import { SensorStack, type SensorStackProps } from '../../lib/sensor-stack';
import { parseConfig } from '../../sensor/config/load-config';
import { nagErrors } from './support';

const props: SensorStackProps = {
  env: { account: '444455556666', region: 'eu-west-1' },
  cluster: { existingClusterName: 'workloads-prod', kubernetesVersion: '1.34' },
  gatewayEndpoint: 'http://vpce-0123.sightline.internal:4318',
  image: 'public.ecr.aws/example/sightline@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef',
};

describe('SensorStack on an existing cluster', () => {
  let stack: SensorStack;
  let template: Template;
  let manifest: any[];
  beforeAll(() => {
    stack = new SensorStack(new App(), 'Sensor', props);
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

  test('its kubectl provider gets cluster access through an access entry, which the manifest waits for (and outlives on delete)', () => {
    template.hasResourceProperties('AWS::EKS::AccessEntry', {
      ClusterName: 'workloads-prod',
      AccessPolicies: [Match.objectLike({ AccessScope: { Type: 'cluster' } })],
    });
    const [accessEntryId] = Object.keys(template.findResources('AWS::EKS::AccessEntry'));
    const [manifestResource] = Object.values(template.findResources('Custom::AWSCDK-EKS-KubernetesResource')) as any[];
    expect(manifestResource.DependsOn).toContain(accessEntryId);
  });

  test('every function logs to a log group with retention', () => {
    const groups = template.findResources('AWS::Logs::LogGroup');
    const functions = Object.values(template.findResources('AWS::Lambda::Function')) as any[];
    expect(functions.length).toBeGreaterThan(0);
    for (const fn of functions) {
      const ref = fn.Properties.LoggingConfig?.LogGroup?.Ref;
      expect(groups[ref]?.Properties.RetentionInDays).toBe(30);
    }
  });

  test('kubectl version skew: a cluster within one minor version passes, one outside is refused with the way out', () => {
    expect(Annotations.fromStack(stack).findWarning('*', Match.stringLikeRegexp('kubectl'))).toEqual([]);
    const tooOld = () => new SensorStack(new App(), 'Sensor', { ...props, cluster: { existingClusterName: 'legacy', kubernetesVersion: '1.32' } });
    expect(tooOld).toThrow(/kubectl 1\.35, which supports clusters 1\.34 to 1\.36; cluster 1\.32 is outside that.*cdk8s-app\.ts/);
    expect(() => new SensorStack(new App(), 'Sensor', { ...props, cluster: { existingClusterName: 'next', kubernetesVersion: '1.36' } })).not.toThrow();
    // Unknown version: synth says what it could not check.
    const unchecked = new SensorStack(new App(), 'Sensor', { ...props, cluster: { existingClusterName: 'workloads-prod' } });
    Annotations.fromStack(unchecked).hasWarning('*', Match.stringLikeRegexp('kubectl 1\\.35, which supports clusters 1\\.34 to 1\\.36.*sightline:clusterVersion'));
  });

  test('privileged when asked (SELinux-enforcing nodes), capabilities only otherwise', () => {
    const daemonSet = (stackProps: SensorStackProps) => {
      const rendered = Template.fromStack(new SensorStack(new App(), 'Sensor', stackProps));
      const resource = Object.values(rendered.findResources('Custom::AWSCDK-EKS-KubernetesResource'))[0] as any;
      return JSON.parse(resource.Properties.Manifest).find((object: any) => object.kind === 'DaemonSet');
    };
    expect(daemonSet({ ...props, privileged: true }).spec.template.spec.containers[0].securityContext).toEqual({ privileged: true, runAsUser: 0 });
    expect(manifest.find((object) => object.kind === 'DaemonSet').spec.template.spec.containers[0].securityContext.privileged).toBe(false);
  });

  test('cdk-nag AwsSolutions: no unacknowledged error', () => {
    expect(nagErrors(stack)).toEqual([]);
  });
});
