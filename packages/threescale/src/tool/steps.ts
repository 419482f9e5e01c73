// Shared I/O of the CLI steps: the context, helper Jobs run to completion with a bound.
import type { V1Job, V1Pod } from "@kubernetes/client-node";
import { isAlreadyExists, type KubeClient, type KubeObject } from "@dataprotection/runtime";
import { setTimeout as sleep } from "node:timers/promises";
import { Kinds } from "@dataprotection/api";
import { buildHelperJob } from "./helper.ts";
import { Reason, StepError } from "./reasons.ts";
import type { BackupStore } from "./store.ts";
import { getOrUndefined } from "./kube.ts";

export interface StepContext {
  client: KubeClient;
  namespace: string;
  store: BackupStore;
  env: NodeJS.ProcessEnv;
  log: (line: string) => void;
  /** Poll interval of bounded waits (ms). */
  pollMs: number;
}

export const seconds = (v: string | undefined, dflt: number): number => (v && Number(v) > 0 ? Number(v) : dflt) * 1000;

/** Creates `job` (or finds it from an earlier run) and waits, bounded, until it completes. */
export async function runJobToCompletion(ctx: StepContext, job: V1Job, what: string, timeoutMs: number, reason: string): Promise<void> {
  const name = job.metadata!.name!;
  try {
    await ctx.client.create(Kinds.Job, job as V1Job & KubeObject);
  } catch (e) {
    if (!isAlreadyExists(e)) throw e;
  }
  ctx.log(`${what}: Job ${ctx.namespace}/${name} started`);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const j = await getOrUndefined<V1Job & KubeObject>(ctx.client, Kinds.Job, name, ctx.namespace);
    const cond = (t: string) => j?.status?.conditions?.some((c) => c.type === t && c.status === "True");
    if (cond("Complete")) {
      await ctx.client.delete(Kinds.Job, name, ctx.namespace, { propagationPolicy: "Background" }).catch(() => undefined);
      return;
    }
    if (cond("Failed")) {
      const pods = await ctx.client.list<V1Pod & KubeObject>(Kinds.Pod, { namespace: ctx.namespace, labelSelector: `job-name=${name}` });
      const msg = pods.items.map((p) => p.status?.containerStatuses?.[0]?.state?.terminated?.message ?? "").find((m) => m) ?? "no message";
      throw new StepError(reason, `${what}: Job ${ctx.namespace}/${name} failed: ${msg.trim().slice(-600)}`);
    }
    if (Date.now() > deadline) throw new StepError(reason, `${what}: Job ${ctx.namespace}/${name} did not finish within ${timeoutMs / 1000}s: check its pod`);
    await sleep(ctx.pollMs);
  }
}

/** Runs `threescale-dp <args>` in a helper Job that has the system-storage PVC mounted. */
export async function runWithSystemStorage(ctx: StepContext, args: string[], claimName: string, step: string): Promise<void> {
  const podName = ctx.env.POD_NAME || ctx.env.HOSTNAME;
  const self = podName ? await getOrUndefined<V1Pod & KubeObject>(ctx.client, Kinds.Pod, podName, ctx.namespace) : undefined;
  if (!self) throw new StepError(Reason.HelperJobFailed, `cannot read the tool pod "${ctx.namespace}/${podName}" to copy its volumes: run the CLI in a pod (POD_NAME) whose service account may get pods`);
  const job = buildHelperJob({ self, containerName: ctx.env.THREESCALE_CONTAINER, args, cli: ctx.env.THREESCALE_CLI || "threescale-dp", claimName, step });
  await runJobToCompletion(ctx, job, `System FileStorage (${step})`, seconds(ctx.env.THREESCALE_STEP_TIMEOUT_SECONDS, 1800), Reason.HelperJobFailed);
}
