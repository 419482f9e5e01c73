import { expect } from "chai";
import { AnnotationTargetPodName } from "@dataprotection/api";
import { backup, pod, policy, tool } from "./testdata.ts";
import { podMayTarget } from "./wake.ts";

describe("backup: which waiting Backups a pod's event wakes", () => {
  const tools = { volume: tool(), api: tool({ targetless: true }) };
  const toolOf = (name: string) => tools[name as keyof typeof tools];

  it("a pod its policy's selector matches, not another", () => {
    expect(podMayTarget(pod("db-0", { app: "db" }), backup(), policy(), toolOf)).to.equal(true);
    expect(podMayTarget(pod("web-0", { app: "web" }), backup(), policy(), toolOf)).to.equal(false);
  });

  it("only the pinned pod when the Backup or its policy pins one", () => {
    const pinned = { ...backup(), metadata: { ...backup().metadata, annotations: { [AnnotationTargetPodName]: "db-1" } } };
    expect(podMayTarget(pod("db-1", {}), pinned, policy(), toolOf)).to.equal(true);
    expect(podMayTarget(pod("db-0", { app: "db" }), pinned, policy(), toolOf)).to.equal(false);
  });

  it("no pod for a targetless tool with an empty selector, nor without the policy or its section", () => {
    const targetless = policy({ backupToolName: "api", target: { labelsSelector: {} } });
    expect(podMayTarget(pod("db-0", { app: "db" }), backup(), targetless, toolOf)).to.equal(false);
    expect(podMayTarget(pod("db-0", { app: "db" }), backup(), undefined, toolOf)).to.equal(false);
    expect(podMayTarget(pod("db-0", { app: "db" }), backup({ backupType: "logfile" }), policy(), toolOf)).to.equal(false);
  });

  it("every pod for an empty selector of a tool that needs a target (Kubernetes: empty selects all)", () => {
    expect(podMayTarget(pod("any-0", { x: "y" }), backup(), policy({ target: { labelsSelector: {} } }), toolOf)).to.equal(true);
  });
});
