// applyDecision: the fixed order, and the one conflict policy (a stale decision is dropped).
import { expect } from "chai";
import { applyDecision, type ApplyContext } from "./apply.ts";
import { ApiError } from "./errors.ts";
import type { Kind } from "./kinds.ts";
import type { KubeObject } from "./object.ts";

const Widget: Kind = { group: "example.com", version: "v1", kind: "Widget", plural: "widgets", namespaced: true };
const Job: Kind = { group: "batch", version: "v1", kind: "Job", plural: "jobs", namespaced: true };
type W = KubeObject & { status?: { phase?: string } };

function recorder(o: { statusConflict?: boolean; exists?: string[] } = {}) {
  const calls: string[] = [];
  const conflict = () => new ApiError(409, "Conflict", "the object has been modified", "Conflict");
  const client = {
    create: async (kind: Kind, obj: KubeObject) => {
      calls.push(`create ${kind.kind}/${obj.metadata.name}`);
      if (o.exists?.includes(obj.metadata.name!)) throw new ApiError(409, "AlreadyExists", "exists", "AlreadyExists");
      return obj;
    },
    replace: async (kind: Kind, obj: KubeObject, sub?: string) => {
      calls.push(`replace ${kind.kind}/${obj.metadata.name}${sub ? `/${sub}` : ""} rv=${obj.metadata.resourceVersion}`);
      if (o.statusConflict) throw conflict();
      return { ...obj, metadata: { ...obj.metadata, resourceVersion: `${obj.metadata.resourceVersion}+1` } };
    },
    patch: async (kind: Kind, name: string, _ns: string | undefined, patch: unknown) => {
      calls.push(`patch ${kind.kind}/${name} ${JSON.stringify(patch)}`);
      return { metadata: { name } };
    },
    delete: async (kind: Kind, name: string) => {
      calls.push(`delete ${kind.kind}/${name}`);
      if (name === "gone") throw new ApiError(404, "NotFound", "not found", "NotFound");
      return {};
    },
    get: async () => {
      throw new Error("apply must not read");
    },
  };
  const ctx = {
    client,
    events: { record: (_o: KubeObject, type: string, reason: string) => calls.push(`event ${type}/${reason}`) },
    log: { debug: () => undefined },
    superseded: (rv: string) => calls.push(`superseded rv=${rv}`),
  } as unknown as ApplyContext;
  return { calls, ctx };
}

const obj: W = { apiVersion: "example.com/v1", kind: "Widget", metadata: { name: "w", namespace: "ns", resourceVersion: "7", finalizers: ["example.com/f"] }, status: { phase: "New" } };

describe("applyDecision", () => {
  it("creates, then writes the status with the observed resourceVersion, then deletes, then records Events, then changes the finalizer", async () => {
    const { calls, ctx } = recorder({ exists: ["made-before"] });
    const r = await applyDecision<W, string>(ctx, Widget, obj, {
      prepare: ["copy-secret"],
      creates: [{ kind: Job, object: { metadata: { name: "j", namespace: "ns" } } }, { kind: Job, object: { metadata: { name: "made-before", namespace: "ns" } } }],
      status: { phase: "Running" },
      patches: [{ kind: Job, name: "j", namespace: "ns", patch: { spec: { suspend: false } } }],
      deletes: [{ kind: Job, name: "old", namespace: "ns" }, { kind: Job, name: "gone", namespace: "ns" }],
      events: [{ type: "Normal", reason: "Started", message: "m" }],
      finalizer: { remove: "example.com/f" },
      requeueAfterMs: 5000,
    }, { prepare: async (p) => void calls.push(`prepare ${p}`) });
    expect(calls).to.deep.equal([
      "prepare copy-secret",
      "create Job/j",
      "create Job/made-before",
      "replace Widget/w/status rv=7",
      "superseded rv=7",
      `patch Job/j {"spec":{"suspend":false}}`,
      "delete Job/old",
      "delete Job/gone",
      "event Normal/Started",
      `patch Widget/w {"metadata":{"finalizers":[],"resourceVersion":"7"}}`,
    ]);
    expect(r).to.deep.equal({ requeueAfter: 5000 });
  });

  it("drops a decision made from a stale object: on a status conflict nothing after the status happens, and the key is requeued", async () => {
    const { calls, ctx } = recorder({ statusConflict: true });
    const r = await applyDecision<W>(ctx, Widget, obj, {
      creates: [{ kind: Job, object: { metadata: { name: "j", namespace: "ns" } } }],
      status: { phase: "Running" },
      deletes: [{ kind: Job, name: "old", namespace: "ns" }],
      events: [{ type: "Normal", reason: "Started", message: "m" }],
      finalizer: { remove: "example.com/f" },
    });
    // Exactly one status attempt, never a re-read and re-apply onto the newer object.
    expect(calls).to.deep.equal(["create Job/j", "replace Widget/w/status rv=7"]);
    expect(r).to.deep.equal({ requeue: true });
  });

  it("applies nothing after a prerequisite that cannot be met", async () => {
    const { calls, ctx } = recorder();
    const d = { prepare: ["ok", "bad"], creates: [{ kind: Job, object: { metadata: { name: "j", namespace: "ns" } } }], status: { phase: "Running" } };
    const prepare = async (p: string) => {
      calls.push(`prepare ${p}`);
      if (p === "bad") throw new Error("Secret not found");
    };
    let err: unknown;
    await applyDecision<W, string>(ctx, Widget, obj, d, { prepare }).catch((e: unknown) => (err = e));
    expect((err as Error).message).to.equal("Secret not found");
    expect(calls).to.deep.equal(["prepare ok", "prepare bad"]);
    await applyDecision<W, string>(ctx, Widget, obj, d).catch((e: unknown) => (err = e));
    expect((err as Error).message).to.match(/has prerequisites and no prepare function/);
  });

  it("writes nothing for a status equal to the observed one", async () => {
    const { calls, ctx } = recorder();
    expect(await applyDecision<W>(ctx, Widget, obj, { status: { phase: "New" }, events: [{ type: "Normal", reason: "Same", message: "" }] })).to.equal(undefined);
    expect(calls).to.deep.equal(["event Normal/Same"]);
  });

  it("tells the controller which version it replaced when it wrote the status; nothing when the status was already so", async () => {
    const wrote = recorder();
    await applyDecision<W>(wrote.ctx, Widget, obj, { status: { phase: "Running" } });
    expect(wrote.calls).to.deep.equal(["replace Widget/w/status rv=7", "superseded rv=7"]);
    const same = recorder();
    await applyDecision<W>(same.ctx, Widget, obj, { status: { phase: "New" } });
    expect(same.calls).to.deep.equal([]);
  });
});
