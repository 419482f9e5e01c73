// The image is built by a Dockerfile no test can run (no Docker here), so check what it relies on:
// every path it copies from the checkout and every /opt/dataprotection path it links or runs
// exists after the project's build (npm run build, run by the set-up), and the chart's Deployment
// runs exactly the image's entrypoint.
import { expect } from "chai";
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseAllDocuments } from "yaml";
import { helmBinary } from "@dataprotection/testenv";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
const IMAGE_ROOT = "/opt/dataprotection";
const dockerfile = readFileSync(join(root, "Dockerfile"), "utf8").replace(/\\\n/g, " ");

/** The checkout path an image path under /opt/dataprotection comes from (the build stage copies /src there). */
const fromImage = (p: string) => join(root, p.slice(IMAGE_ROOT.length));

describe("Dockerfile", () => {
  it("copies only paths that exist in the checkout", () => {
    const copies = [...dockerfile.matchAll(/^COPY (?!--from)(.+)$/gm)].map((m) => m[1]!.trim().split(/\s+/).slice(0, -1)).flat();
    expect(copies.length).to.be.greaterThan(1);
    for (const c of copies) expect(existsSync(join(root, c)), `COPY ${c}`).to.equal(true);
  });

  it(`links and runs only ${IMAGE_ROOT} paths that exist after the build`, () => {
    const paths = [...new Set([...dockerfile.matchAll(new RegExp(`${IMAGE_ROOT}/[\\w./-]+`, "g"))].map((m) => m[0]))];
    expect(paths.some((p) => p.endsWith("/dist/operator.js")), "the entrypoint runs the compiled operator").to.equal(true);
    for (const p of paths) expect(existsSync(fromImage(p)), `${p} (${fromImage(p)}): run npm run build`).to.equal(true);
  });

  it("ships dp-agent's chunk and dedup workers beside every compiled program whose code starts them", () => {
    for (const dist of ["packages/agent/dist", "packages/operator/dist", "packages/threescale/dist", "packages/cli/dist"].map((d) => join(root, d))) {
      expect(existsSync(dist), `${dist}: run npm run build`).to.equal(true);
      const code = readdirSync(dist).filter((f) => f.endsWith(".js")).map((f) => readFileSync(join(dist, f), "utf8"));
      for (const worker of ["chunk-worker.js", "dedup-worker.js"]) {
        if (code.some((c) => c.includes(`"./${worker}"`))) expect(existsSync(join(dist, worker)), `${dist} starts dp-agent's worker threads from ${worker} beside it`).to.equal(true);
      }
    }
    expect(readdirSync(join(root, "packages/agent/dist")), "dp-agent's bundle").to.include.members(["chunk-worker.js", "dedup-worker.js"]);
  });

  it("has the chart's Deployment run the image's entrypoint", () => {
    const entry = JSON.parse(/^ENTRYPOINT (\[.*\])$/m.exec(dockerfile)![1]!) as string[];
    const out = execFileSync(helmBinary(), ["template", "rel", join(root, "charts/dataprotection"), "--show-only", "templates/deployment.yaml"], { encoding: "utf8" });
    const d = parseAllDocuments(out).map((x) => x.toJS() as { spec: { template: { spec: { containers: Array<{ command: string[] }> } } } })[0]!;
    expect(d.spec.template.spec.containers[0]!.command).to.deep.equal(entry);
  });
});
