export { runCli, type CliIo } from "./main.ts";
export { backupObject, restoreJobObject, parseSelector, parseSecret, parseVolume, generatedName, UsageError } from "./objects.ts";
export { backupTable, restoreTable, policyTable, formatTable, age } from "./table.ts";
