import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { renderCharts } from '../../lib/charts/cdk8s-app';

describe('standalone chart rendering', () => {
  test('writes sensor and gateway YAML from the environment', () => {
    const outdir = mkdtempSync(join(tmpdir(), 'sightline-cdk8s-'));
    renderCharts({
      SIGHTLINE_IMAGE: 'registry.example/sightline:1', SIGHTLINE_GATEWAY_ENDPOINT: 'https://gw:4318', SIGHTLINE_SPAN_BUCKET: 'b',
      AWS_REGION: 'eu-west-1',
    }, outdir).synth();
    const files = readdirSync(outdir).sort();
    expect(files).toEqual(['sightline-gateway.k8s.yaml', 'sightline-sensor.k8s.yaml']);
    const kinds = (file: string): string[] => parseAllDocuments(readFileSync(join(outdir, file), 'utf8')).map((doc) => doc.toJS().kind);
    expect(kinds('sightline-sensor.k8s.yaml')).toContain('DaemonSet');
    expect(kinds('sightline-sensor.k8s.yaml')).not.toContain('Namespace');
    expect(kinds('sightline-gateway.k8s.yaml')).toEqual(expect.arrayContaining(['Namespace', 'StatefulSet', 'HorizontalPodAutoscaler', 'StorageClass']));
    // A cluster outside this app most likely runs the EBS CSI driver add-on, not EKS Auto Mode.
    const storageClass = parseAllDocuments(readFileSync(join(outdir, 'sightline-gateway.k8s.yaml'), 'utf8')).map((doc) => doc.toJS()).find((doc) => doc.kind === 'StorageClass');
    expect(storageClass.provisioner).toBe('ebs.csi.aws.com');
  });

  test('credentials come from Kubernetes Secrets by default names, renamed by the environment', () => {
    const outdir = mkdtempSync(join(tmpdir(), 'sightline-cdk8s-'));
    renderCharts({
      SIGHTLINE_IMAGE: 'registry.example/sightline:1', SIGHTLINE_GATEWAY_ENDPOINT: 'https://gw:4318', SIGHTLINE_SPAN_BUCKET: 'b',
      AWS_REGION: 'eu-west-1', SIGHTLINE_SENSOR_CREDENTIALS_SECRET: 'my-gateway-creds', SIGHTLINE_GATEWAY_SERVER_NAME: 'gw.example.internal',
    }, outdir).synth();
    const docs = (file: string) => parseAllDocuments(readFileSync(join(outdir, file), 'utf8')).map((doc) => doc.toJS());
    const gatewayVolumes = docs('sightline-gateway.k8s.yaml').find((doc) => doc.kind === 'StatefulSet').spec.template.spec.volumes;
    expect(gatewayVolumes.filter((volume: any) => volume.secret).map((volume: any) => volume.secret.secretName)).toEqual(['sightline-gateway-tls', 'sightline-gateway-client-tokens']);
    const sensorDocs = docs('sightline-sensor.k8s.yaml');
    const sensorVolumes = sensorDocs.find((doc) => doc.kind === 'DaemonSet').spec.template.spec.volumes;
    expect(sensorVolumes.filter((volume: any) => volume.secret).map((volume: any) => volume.secret.secretName)).toEqual(['my-gateway-creds']);
    expect(sensorDocs.find((doc) => doc.kind === 'ConfigMap').data['config.yaml']).toContain('serverName: gw.example.internal');
  });

  test('uses an existing StorageClass for the gateway spool when told', () => {
    const outdir = mkdtempSync(join(tmpdir(), 'sightline-cdk8s-'));
    renderCharts({
      SIGHTLINE_IMAGE: 'registry.example/sightline:1', SIGHTLINE_GATEWAY_ENDPOINT: 'https://gw:4318', SIGHTLINE_SPAN_BUCKET: 'b',
      AWS_REGION: 'eu-west-1', SIGHTLINE_SPOOL_STORAGE_CLASS: 'gp3',
    }, outdir).synth();
    const docs = parseAllDocuments(readFileSync(join(outdir, 'sightline-gateway.k8s.yaml'), 'utf8')).map((doc) => doc.toJS());
    expect(docs.map((doc) => doc.kind)).not.toContain('StorageClass');
    expect(docs.find((doc) => doc.kind === 'StatefulSet').spec.volumeClaimTemplates[0].spec.storageClassName).toBe('gp3');
  });

  test('names the missing variable', () => {
    expect(() => renderCharts({ SIGHTLINE_IMAGE: 'x' }, mkdtempSync(join(tmpdir(), 'sightline-cdk8s-'))))
      .toThrow('SIGHTLINE_GATEWAY_ENDPOINT is required');
  });
});
