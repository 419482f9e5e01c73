import { expect } from "chai";
import type { BackupTool, RestoreJob } from "@dataprotection/api";
import { repoAccessFor } from "../backuprepo/access.ts";
import { backup, repo, restoreJob, tool } from "./fixtures.test-util.ts";
import { buildTargetlessJob, restoresTargetless } from "./targetless.ts";
import type { RestorePlan } from "./plan.ts";

const targetless = (t: BackupTool): BackupTool => ({ ...t, spec: { ...t.spec, targetless: true, serviceAccountName: "tool-sa" } }) as BackupTool;
const emptySelector = (rj: RestoreJob): RestoreJob => ({ ...rj, spec: { ...rj.spec, target: { labelsSelector: {} }, targetVolumes: [], targetVolumeMounts: [] } }) as RestoreJob;
const planWith = (t: BackupTool): RestorePlan => ({ backup: backup("full"), steps: [{ backup: backup("full"), tool: t, kind: "base" }], modes: ["logical"], repo: repo(), verify: [] });

describe("restorejob: targetless logical restore", () => {
  const rows: Array<[string, RestoreJob, BackupTool, boolean]> = [
    ["targetless tool, empty selector", emptySelector(restoreJob()), targetless(tool("t", { logical: ["run"] })), true],
    ["targetless tool, a selector", restoreJob(), targetless(tool("t", { logical: ["run"] })), false],
    ["ordinary tool, empty selector", emptySelector(restoreJob()), tool("t", { logical: ["run"] }), false],
  ];
  for (const [what, rj, t, want] of rows) it(`${what} -> ${want}`, () => expect(restoresTargetless(rj, planWith(t))).to.equal(want));

  it("builds one Job with no target pod, as the tool's service account", () => {
    const rj = emptySelector(restoreJob());
    const j = buildTargetlessJob(rj, planWith(targetless(tool("t", { logical: ["run"] }))), repoAccessFor(repo()));
    const pod = j.spec!.template.spec!;
    expect(j.metadata!.name).to.equal("rj-logic");
    expect(pod).to.deep.include({ serviceAccountName: "tool-sa", automountServiceAccountToken: true });
    expect(pod.nodeName).to.equal(undefined);
    expect(pod.containers[0]!.args).to.deep.equal(["run"]);
    expect(pod.containers[0]!.env!.map((e) => e.name)).to.not.include("DB_HOST");
    expect(pod.volumes!.map((v) => v.name)).to.deep.equal(["dp-backup-data"]);
  });
});
