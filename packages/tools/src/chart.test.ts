import { expect } from "chai";
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseAllDocuments } from "yaml";
import type { BackupTool } from "@dataprotection/api";
import { CHART_TOOLS_PATH, chartToolsTemplate } from "./chart.ts";
import { AGENT_IMAGE, shippedTools, volumeTool } from "./index.ts";

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");

describe("chart: built-in tools template", () => {
  it(`${CHART_TOOLS_PATH} is up to date (npm run gen)`, () => {
    expect(readFileSync(resolve(repoRoot, CHART_TOOLS_PATH), "utf8") === chartToolsTemplate(shippedTools), `${CHART_TOOLS_PATH} is stale: run npm run gen`).to.equal(true);
  });

  it("renders every shipped tool with its image as a value, and the rest unchanged", () => {
    const text = chartToolsTemplate(shippedTools);
    // What Helm renders with default values, image expressions replaced by a fixed image.
    const rendered = text
      .split("\n")
      .filter((l) => !l.startsWith("{{-"))
      .join("\n")
      .replace(/\{\{ \.Values\.toolImages\.\w+ [^}]*\}\}/g, '"img"');
    const docs = parseAllDocuments(rendered).map((d) => d.toJS() as BackupTool).filter(Boolean);
    expect(docs.map((d) => d.metadata?.name)).to.deep.equal(shippedTools.map((t) => t.metadata?.name));
    for (const [i, d] of docs.entries()) expect(d).to.deep.equal({ ...shippedTools[i], spec: { ...shippedTools[i]!.spec, image: "img" } });
    expect(text).to.contain("{{- if .Values.builtinTools.enabled }}");
  });

  it("refuses a tool whose commands would be read as a Helm template", () => {
    const bad: BackupTool = { ...volumeTool, spec: { ...volumeTool.spec, image: AGENT_IMAGE, backupCommands: ["sh", "-c", "echo {{ oops }}"] } };
    expect(() => chartToolsTemplate([bad])).to.throw('"{{"');
  });
});
