import { expect } from "chai";
import type { V1PersistentVolumeClaim, V1Pod } from "@kubernetes/client-node";
import { claimsToRequeue, newRequeueMemory, REQUEUE_AFTER_MS } from "./requeue.ts";

function pod(name: string, claims: string[], scheduled: { status: string; reason?: string } | "bound" = { status: "False", reason: "Unschedulable" }): V1Pod {
  return {
    metadata: { name, namespace: "ns", uid: `uid-${name}` },
    spec: {
      containers: [{ name: "c" }],
      nodeName: scheduled === "bound" ? "local-node-0" : undefined,
      volumes: [{ name: "cfg", configMap: { name: "x" } }, ...claims.map((c) => ({ name: c, persistentVolumeClaim: { claimName: c } }))],
    },
    status: { phase: "Pending", conditions: scheduled === "bound" ? [] : [{ type: "PodScheduled", ...scheduled }] },
  };
}
const claim = (name: string, phase: string): V1PersistentVolumeClaim => ({ metadata: { name, namespace: "ns" }, status: { phase } });

describe("scheduler requeue decisions", () => {
  it("touches the claims of a pod stuck unschedulable with all claims bound, once it has looked stuck for a while, then at most every interval", () => {
    const mem = newRequeueMemory();
    const pods = [pod("p", ["a", "b"])];
    const pvcs = [claim("a", "Bound"), claim("b", "Bound")];
    expect(claimsToRequeue(pods, pvcs, mem, 1000)).to.deep.equal([]);
    expect(claimsToRequeue(pods, pvcs, mem, 1000 + REQUEUE_AFTER_MS)).to.deep.equal(["ns/a", "ns/b"]);
    expect(claimsToRequeue(pods, pvcs, mem, 1000 + REQUEUE_AFTER_MS + 1)).to.deep.equal([]);
    expect(claimsToRequeue(pods, pvcs, mem, 1000 + 2 * REQUEUE_AFTER_MS)).to.deep.equal(["ns/a", "ns/b"]);
  });

  it("leaves alone pods waiting for a claim to bind, pods without claims, scheduled pods and pods unschedulable for another reason", () => {
    const mem = newRequeueMemory();
    const pods = [
      pod("waiting", ["a", "pending"]), pod("noclaims", []), pod("scheduled", ["a"], "bound"),
      pod("gated", ["a"], { status: "False", reason: "SchedulingGated" }),
    ];
    const pvcs = [claim("a", "Bound"), claim("pending", "Pending")];
    for (const t of [0, REQUEUE_AFTER_MS, 10 * REQUEUE_AFTER_MS]) expect(claimsToRequeue(pods, pvcs, mem, t)).to.deep.equal([]);
    expect(mem.stuck.size).to.equal(0);
  });

  it("counts a generic ephemeral volume's claim, named after the pod and the volume", () => {
    const mem = newRequeueMemory();
    const p = pod("restore", []);
    p.spec!.volumes!.push({ name: "scratch", ephemeral: { volumeClaimTemplate: { spec: {} } } });
    claimsToRequeue([p], [claim("restore-scratch", "Bound")], mem, 0);
    expect(claimsToRequeue([p], [claim("restore-scratch", "Bound")], mem, REQUEUE_AFTER_MS)).to.deep.equal(["ns/restore-scratch"]);
  });

  it("forgets a pod once it is no longer stuck, so it waits the full interval if it gets stuck again", () => {
    const mem = newRequeueMemory();
    const pvcs = [claim("a", "Bound")];
    claimsToRequeue([pod("p", ["a"])], pvcs, mem, 0);
    claimsToRequeue([pod("p", ["a"], "bound")], pvcs, mem, REQUEUE_AFTER_MS);
    expect(mem.stuck.size).to.equal(0);
    expect(claimsToRequeue([pod("p", ["a"])], pvcs, mem, 2 * REQUEUE_AFTER_MS)).to.deep.equal([]);
  });
});
