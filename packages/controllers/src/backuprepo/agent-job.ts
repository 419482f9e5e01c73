// Pure: a Job that runs dp-agent alone against a repo (a Backup's delete and import, a repo's
// prune): one container with the repo's env, volumes and mounts, no service-account token.
import type { V1EnvVar, V1Job } from "@kubernetes/client-node";
import type { RepoAccess } from "./access.ts";

export interface RepoAgentJob {
  name: string;
  namespace?: string;
  labels: Record<string, string>;
  container: string;
  image: string;
  command: string[];
  /** After the repo's env. */
  env?: V1EnvVar[];
  access: RepoAccess;
  backoffLimit: number;
  ttlSecondsAfterFinished?: number;
}

export function buildRepoAgentJob(j: RepoAgentJob): V1Job {
  return {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: { name: j.name, namespace: j.namespace, labels: j.labels },
    spec: {
      backoffLimit: j.backoffLimit,
      ...(j.ttlSecondsAfterFinished !== undefined ? { ttlSecondsAfterFinished: j.ttlSecondsAfterFinished } : {}),
      template: {
        metadata: { labels: j.labels },
        spec: {
          restartPolicy: "Never",
          automountServiceAccountToken: false,
          volumes: j.access.volumes,
          containers: [{
            name: j.container,
            image: j.image,
            command: j.command,
            env: [...j.access.env, ...(j.env ?? [])],
            volumeMounts: j.access.volumeMounts,
            terminationMessagePolicy: "FallbackToLogsOnError",
          }],
        },
      },
    },
  };
}
