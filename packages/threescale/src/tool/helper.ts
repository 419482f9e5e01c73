// Pure builders of the one-shot Jobs the CLI starts: a helper that mounts system-storage
// (a pod cannot mount a PVC it has just created, and the tool pod need not mount it), and
// the routes resync run from the system-sidekiq Deployment's pod template.
import type { V1Container, V1Job, V1Pod, V1PodTemplateSpec, V1Volume } from "@kubernetes/client-node";
import { LabelManagedBy, LabelThreescaleHelper, ManagedBy } from "@dataprotection/api";
import { childName } from "@dataprotection/runtime";

export const SYSTEM_STORAGE_MOUNT = "/system-storage";
const SA_PATH = "/var/run/secrets/kubernetes.io/serviceaccount";
const isTokenVolume = (v: V1Volume): boolean => v.projected?.sources?.some((s) => s.serviceAccountToken) === true || v.name.startsWith("kube-api-access-");

export interface HelperInput {
  /** The tool pod running the CLI (read through the API: its volumes, env, image, service account). */
  self: V1Pod;
  /** Which container of it runs the CLI. */
  containerName?: string;
  /** `threescale-dp <args>`. */
  args: string[];
  cli: string;
  claimName: string;
  step: string;
}

/** Same image, env, repo volumes and service account as the tool pod, plus system-storage at /system-storage. */
export function buildHelperJob(i: HelperInput): V1Job {
  const pod = i.self;
  const c: V1Container | undefined = pod.spec?.containers.find((x) => x.name === i.containerName) ?? pod.spec?.containers[0];
  const volumes = (pod.spec?.volumes ?? []).filter((v) => !isTokenVolume(v));
  const kept = new Set(volumes.map((v) => v.name));
  const name = childName(pod.metadata?.name ?? "threescale", i.step);
  return {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: {
      name,
      namespace: pod.metadata?.namespace,
      labels: { [LabelThreescaleHelper]: i.step, [LabelManagedBy]: ManagedBy },
      ownerReferences: pod.metadata?.uid ? [{ apiVersion: "v1", kind: "Pod", name: pod.metadata.name!, uid: pod.metadata.uid }] : undefined,
    },
    spec: {
      backoffLimit: 0,
      template: {
        metadata: { labels: { [LabelThreescaleHelper]: i.step } },
        spec: {
          restartPolicy: "Never",
          serviceAccountName: pod.spec?.serviceAccountName,
          automountServiceAccountToken: pod.spec?.automountServiceAccountToken,
          securityContext: pod.spec?.securityContext,
          nodeName: undefined,
          affinity: pod.spec?.nodeName ? { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchFields: [{ key: "metadata.name", operator: "In", values: [pod.spec.nodeName] }] }] } } } : undefined,
          volumes: [...volumes, { name: "system-storage", persistentVolumeClaim: { claimName: i.claimName } }],
          containers: [{
            name: "threescale",
            image: c?.image,
            command: [i.cli, ...i.args],
            env: c?.env,
            envFrom: c?.envFrom,
            volumeMounts: [...(c?.volumeMounts ?? []).filter((m) => kept.has(m.name) && m.mountPath !== SA_PATH), { name: "system-storage", mountPath: SYSTEM_STORAGE_MOUNT }],
            terminationMessagePolicy: "FallbackToLogsOnError",
          }],
        },
      },
    },
  };
}

export const RESYNC_COMMAND = ["bash", "-c", "bundle exec rake zync:resync:domains"];

/**
 * `oc exec` into a system-sidekiq pod is what the upstream operator does; a pods/exec
 * stream is not available everywhere, so the same command runs in a one-shot Job built
 * from the system-sidekiq Deployment's pod template (same image, env, volumes, account).
 */
export function buildResyncJob(template: V1PodTemplateSpec, namespace: string, restoreName: string): V1Job {
  const spec = template.spec!;
  const containers = spec.containers;
  const main = containers.find((c) => c.name === "system-sidekiq") ?? containers[0];
  return {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: { name: childName(restoreName, "resync-domains"), namespace, labels: { [LabelThreescaleHelper]: "resync-domains", [LabelManagedBy]: ManagedBy } },
    spec: {
      backoffLimit: 0,
      template: {
        metadata: { labels: { [LabelThreescaleHelper]: "resync-domains" } },
        spec: {
          ...spec,
          restartPolicy: "Never",
          initContainers: spec.initContainers,
          containers: [{ ...main, command: RESYNC_COMMAND, args: undefined, livenessProbe: undefined, readinessProbe: undefined, startupProbe: undefined, ports: undefined }],
        },
      },
    },
  };
}
