import { expect } from "chai";
import type { V1Container, V1Pod } from "@kubernetes/client-node";
import { expandVars } from "./expand.ts";
import { envReferences, expandCommand, resolveEnv, type EnvSources } from "./env.ts";
import type { NodeFacts } from "./fieldref.ts";

const facts: NodeFacts = { nodeName: "local-node-0", ip: "127.0.0.1", allocatable: { cpu: "2", memory: "4Gi" } };
const pod: V1Pod = {
  metadata: { name: "p", namespace: "ns", uid: "u-1", labels: { app: "db", tier: "x" }, annotations: { note: "hi" } },
  spec: { nodeName: "local-node-0", serviceAccountName: "sa", containers: [{ name: "c", resources: { requests: { cpu: "250m", memory: "64Mi" } } }] },
};
const sources: EnvSources = {
  secrets: new Map([["creds", { user: "admin", password: "s3cret" }]]),
  configMaps: new Map([["cfg", { MODE: "fast", "bad=key": "x" }]]),
};

function env(c: Partial<V1Container>, base: Array<[string, string]> = []) {
  const r = resolveEnv(pod, { name: "c", ...c }, sources, facts, base);
  return "env" in r ? Object.fromEntries(r.env) : r;
}

describe("expandVars", () => {
  const look = (n: string) => ({ A: "1", B: "two" })[n];
  for (const [input, want] of [
    ["$(A)-$(B)", "1-two"],
    ["$(MISSING)", "$(MISSING)"],
    ["$$(A)", "$(A)"],
    ["$$", "$"],
    ["a$b", "a$b"],
    ["$(A", "$(A"],
    ["end$", "end$"],
  ] as const) {
    it(`expands ${JSON.stringify(input)} to ${JSON.stringify(want)}`, () => expect(expandVars(input, look)).to.equal(want));
  }
});

describe("resolveEnv", () => {
  it("applies envFrom (with prefix) first, then env, which wins", () => {
    expect(env({
      envFrom: [{ configMapRef: { name: "cfg" } }, { secretRef: { name: "creds" }, prefix: "DB_" }],
      env: [{ name: "MODE", value: "slow" }],
    })).to.deep.equal({ MODE: "slow", DB_user: "admin", DB_password: "s3cret" });
  });

  it("expands $(VAR) against earlier variables and the base set", () => {
    expect(env({ env: [{ name: "A", value: "x" }, { name: "B", value: "$(A)/$(KUBERNETES_SERVICE_HOST)/$(LATER)" }, { name: "LATER", value: "y" }] },
      [["KUBERNETES_SERVICE_HOST", "127.0.0.1"]])).to.include({ B: "x/127.0.0.1/$(LATER)" });
  });

  it("reads secretKeyRef and configMapKeyRef", () => {
    expect(env({ env: [
      { name: "U", valueFrom: { secretKeyRef: { name: "creds", key: "user" } } },
      { name: "M", valueFrom: { configMapKeyRef: { name: "cfg", key: "MODE" } } },
    ] })).to.deep.equal({ U: "admin", M: "fast" });
  });

  it("skips optional references that are missing", () => {
    expect(env({ env: [
      { name: "X", valueFrom: { secretKeyRef: { name: "nope", key: "k", optional: true } } },
      { name: "Y", valueFrom: { configMapKeyRef: { name: "cfg", key: "nokey", optional: true } } },
    ], envFrom: [{ secretRef: { name: "nope", optional: true } }] })).to.deep.equal({});
  });

  it("reports a missing Secret or key as an error", () => {
    expect(env({ env: [{ name: "X", valueFrom: { secretKeyRef: { name: "nope", key: "k" } } }] })).to.deep.equal({ error: 'secret "nope" not found' });
    expect(env({ env: [{ name: "X", valueFrom: { configMapKeyRef: { name: "cfg", key: "k" } } }] }))
      .to.deep.equal({ error: "couldn't find key k in ConfigMap ns/cfg" });
    expect(env({ envFrom: [{ configMapRef: { name: "gone" } }] })).to.deep.equal({ error: 'configmap "gone" not found' });
  });

  it("resolves fieldRef paths", () => {
    const f = (fieldPath: string) => ({ name: fieldPath, valueFrom: { fieldRef: { fieldPath } } });
    expect(env({ env: [
      f("metadata.name"), f("metadata.namespace"), f("metadata.uid"), f("metadata.labels['app']"),
      f("metadata.annotations['note']"), f("status.podIP"), f("spec.nodeName"), f("spec.serviceAccountName"), f("metadata.labels"),
    ] })).to.deep.equal({
      "metadata.name": "p", "metadata.namespace": "ns", "metadata.uid": "u-1", "metadata.labels['app']": "db",
      "metadata.annotations['note']": "hi", "status.podIP": "127.0.0.1", "spec.nodeName": "local-node-0",
      "spec.serviceAccountName": "sa", "metadata.labels": 'app="db"\ntier="x"',
    });
  });

  it("resolves resourceFieldRef with divisor, falling back to allocatable for limits", () => {
    expect(env({ env: [
      { name: "REQ_CPU", valueFrom: { resourceFieldRef: { resource: "requests.cpu" } } },
      { name: "REQ_MEM_MI", valueFrom: { resourceFieldRef: { resource: "requests.memory", divisor: "1Mi" } } },
      { name: "LIM_MEM_MI", valueFrom: { resourceFieldRef: { resource: "limits.memory", divisor: "1Mi" } } },
      { name: "REQ_MCPU", valueFrom: { resourceFieldRef: { resource: "requests.cpu", divisor: "1m" } } },
    ] })).to.deep.equal({ REQ_CPU: "1", REQ_MEM_MI: "64", LIM_MEM_MI: "4096", REQ_MCPU: "250" });
  });

  it("lists the objects to fetch and expands the command with the final env", () => {
    const c: V1Container = {
      name: "c", command: ["sh", "-c", "echo $(GREETING) $$HOME"], args: ["$(MISSING)"],
      envFrom: [{ secretRef: { name: "s1" } }], env: [{ name: "X", valueFrom: { configMapKeyRef: { name: "c1", key: "k" } } }],
    };
    expect(envReferences(c)).to.deep.equal({ secrets: ["s1"], configMaps: ["c1"] });
    expect(expandCommand(c, [["GREETING", "hi"]])).to.deep.equal(["sh", "-c", "echo hi $HOME", "$(MISSING)"]);
  });
});
