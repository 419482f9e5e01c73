// npm run gen (second step): writes the chart's built-in tools template from packages/tools, and
// README.md's chart values table from the chart's values.schema.json.
import { writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { CHART_TOOLS_PATH, chartToolsTemplate } from "../src/chart.ts";
import { shippedTools } from "../src/index.ts";
import { README_PATH, readSchema, withValuesTable } from "../src/chart-values.ts";
import { readFileSync } from "node:fs";

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
writeFileSync(resolve(repoRoot, CHART_TOOLS_PATH), chartToolsTemplate(shippedTools));
console.log(`wrote ${CHART_TOOLS_PATH}`);
writeFileSync(README_PATH, withValuesTable(readFileSync(README_PATH, "utf8"), readSchema()));
console.log("wrote the values table in README.md");
