// npm run gen (second step): writes the chart's built-in tools template from packages/tools.
import { writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { CHART_TOOLS_PATH, chartToolsTemplate } from "../src/chart.ts";
import { shippedTools } from "../src/index.ts";

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
writeFileSync(resolve(repoRoot, CHART_TOOLS_PATH), chartToolsTemplate(shippedTools));
console.log(`wrote ${CHART_TOOLS_PATH}`);
