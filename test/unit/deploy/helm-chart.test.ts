import { execFileSync, spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { requireBinary } from '../../../src/stack/binaries';

/**
 * The Helm chart (deploy/helm/otaflow): Helm lints it strictly and renders it, and every object it
 * renders decodes strictly into its Kubernetes type (components/k8s-manifest-check, the API server's
 * own decoding: no unknown field, no mistyped value). Then what an operator relies on: a Deployment
 * per role running that role, probes, a non-root read-only container, autoscaling for the stateless
 * roles only, and the LwM2M gateways behind a UDP service that keeps each device on one gateway.
 */

const CHART = path.resolve(__dirname, '../../../deploy/helm/otaflow');
const ROLES = ['api', 'upgrade-worker', 'task-worker', 'mqtt-gateway', 'lwm2m-gateway', 'webhooks'];

interface Manifest {
  kind: string;
  metadata: { name: string };
  // biome-ignore lint/suspicious/noExplicitAny: rendered Kubernetes objects, checked field by field below
  spec: any;
}

function render(...set: string[]): { text: string; objects: Manifest[] } {
  const helm = requireBinary('helm', 'the Helm chart test');
  const text = execFileSync(helm, ['template', 'ota', CHART, ...set.flatMap((value) => ['--set', value])], {
    encoding: 'utf8',
  });
  const objects = parseAllDocuments(text)
    .map((document) => document.toJS() as Manifest | null)
    .filter((object): object is Manifest => object !== null);
  return { text, objects };
}

function check(manifests: string): { status: number | null; output: string } {
  const checker = requireBinary('k8s-manifest-check', 'the Helm chart test');
  const result = spawnSync(checker, [], { input: manifests, encoding: 'utf8' });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

describe('the Helm chart', () => {
  it('passes helm lint --strict', () => {
    const helm = requireBinary('helm', 'the Helm chart test');
    const result = spawnSync(helm, ['lint', '--strict', CHART], { encoding: 'utf8' });
    expect(result.stdout + result.stderr).toMatch(/1 chart\(s\) linted, 0 chart\(s\) failed/);
    expect(result.status).toBe(0);
  });

  it('renders only objects the Kubernetes API decodes strictly, and the checker catches one it would not', () => {
    const { text } = render();
    const verdict = check(text);
    expect(verdict.output).not.toMatch(/error/);
    expect(verdict.status).toBe(0);
    const misspelt = check(text.replace('readinessProbe:', 'readynessProbe:'));
    expect(misspelt.status).toBe(1);
    expect(misspelt.output).toMatch(/unknown field "spec\.template\.spec\.containers\[0\]\.readynessProbe"/);
  });

  it('runs a Deployment per role (a StatefulSet per gateway), each its own role, probed, as a non-root read-only container', () => {
    const deployments = render().objects.filter(
      (object) => object.kind === 'Deployment' || object.kind === 'StatefulSet',
    );
    expect(deployments.map((deployment) => deployment.metadata.name).sort()).toEqual(
      ROLES.map((role) => `ota-otaflow-${role}`).sort(),
    );
    for (const deployment of deployments) {
      const role = deployment.metadata.name.replace('ota-otaflow-', '');
      const pod = deployment.spec.template.spec;
      const [container] = pod.containers;
      expect(container.env).toContainEqual({ name: 'OTAFLOW_ROLES', value: role });
      expect(container.envFrom).toEqual([
        { configMapRef: { name: 'ota-otaflow' } },
        { secretRef: { name: 'otaflow' } },
      ]);
      expect(container.livenessProbe.httpGet).toEqual({
        path: '/healthz',
        port: role === 'api' ? 'http' : 'health',
      });
      expect(container.ports).toEqual(
        expect.arrayContaining([
          { name: 'metrics', containerPort: 9464, protocol: 'TCP' },
          { name: 'temporal-metrics', containerPort: 9465, protocol: 'TCP' },
        ]),
      );
      expect(deployment.spec.template.metadata.annotations).toMatchObject({
        'prometheus.io/scrape': 'true',
        'prometheus.io/port': '9464',
      });
      expect(container.readinessProbe.httpGet).toEqual({
        path: '/readyz',
        port: role === 'api' ? 'http' : 'health',
      });
      expect(container.resources.requests).toBeDefined();
      expect(pod.securityContext.runAsNonRoot).toBe(true);
      expect(container.securityContext).toMatchObject({
        readOnlyRootFilesystem: true,
        allowPrivilegeEscalation: false,
      });
    }
  });

  it('keeps each gateway pod its name across restarts: its broker session and task queue', () => {
    const { objects } = render();
    for (const role of ['mqtt-gateway', 'lwm2m-gateway']) {
      const gateway = objects.find(
        (object) => object.metadata.name === `ota-otaflow-${role}` && object.kind === 'StatefulSet',
      );
      expect(gateway?.spec.serviceName).toBe(`ota-otaflow-${role}`);
      expect(gateway?.spec.template.spec.containers[0].env).toContainEqual({
        name: 'OTAFLOW_GATEWAY_ID',
        valueFrom: { fieldRef: { fieldPath: 'metadata.name' } },
      });
      const governing = objects.find(
        (object) => object.metadata.name === `ota-otaflow-${role}` && object.kind === 'Service',
      );
      expect(governing?.spec.clusterIP).toBe('None');
    }
    const stateless = objects
      .filter((object) => object.kind === 'Deployment')
      .map((object) => object.metadata.name);
    expect(stateless.sort()).toEqual([
      'ota-otaflow-api',
      'ota-otaflow-task-worker',
      'ota-otaflow-upgrade-worker',
      'ota-otaflow-webhooks',
    ]);
  });

  it('autoscales the stateless roles it is told to, never the gateways by default', () => {
    const { objects } = render();
    const autoscaled = objects.filter((object) => object.kind === 'HorizontalPodAutoscaler');
    expect(autoscaled.map((hpa) => hpa.spec.scaleTargetRef.name).sort()).toEqual([
      'ota-otaflow-api',
      'ota-otaflow-upgrade-worker',
    ]);
    const replicas = (name: string) =>
      objects.find((object) => object.metadata.name === name && object.kind !== 'Service')?.spec.replicas;
    expect(replicas('ota-otaflow-api')).toBeUndefined();
    expect(replicas('ota-otaflow-mqtt-gateway')).toBe(1);
    expect(
      render('roles.task-worker.autoscaling.enabled=true').objects.filter(
        (o) => o.kind === 'HorizontalPodAutoscaler',
      ),
    ).toHaveLength(3);
  });

  it('puts the LwM2M gateways behind UDP with client affinity and the devices own addresses', () => {
    const service = render().objects.find((object) => object.metadata.name === 'ota-otaflow-lwm2m');
    expect(service?.spec).toMatchObject({
      type: 'LoadBalancer',
      externalTrafficPolicy: 'Local',
      sessionAffinity: 'ClientIP',
      ports: [
        { name: 'coap', port: 5683, protocol: 'UDP', targetPort: 'coap' },
        { name: 'coaps', port: 5684, protocol: 'UDP', targetPort: 'coaps' },
      ],
    });
  });

  it('leaves out a role that is disabled, and its service', () => {
    const { objects } = render('roles.lwm2m-gateway.enabled=false');
    expect(objects.map((object) => object.metadata.name)).not.toContain('ota-otaflow-lwm2m-gateway');
    expect(objects.map((object) => object.metadata.name)).not.toContain('ota-otaflow-lwm2m');
    expect(objects.map((object) => object.metadata.name)).toContain('ota-otaflow-mqtt-gateway');
  });
});
