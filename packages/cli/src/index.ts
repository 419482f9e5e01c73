export { runCli, type CliIo } from "./main.ts";
export { backupObject, restoreJobObject, parseSelector, parseSecret, parseVolume, generatedName, UsageError } from "./objects.ts";
export { backupTable, restoreTable, policyTable, formatTable, age, humanDuration, isoTime } from "./table.ts";
export { ExitCode, NotFoundError, TimeoutError, exitFor } from "./exit.ts";
export { policyStatus, statusRows, statusTable, pitrWindows, type PolicyStatus, type PitrWindow, type Health } from "./status.ts";
export { describeBackup, describePolicy, describeRestore, describeDocument, eventsOf, eventLines, parseDescribeKind, type EventLike } from "./describe.ts";
export { Progress, progressLine, bytesMoved } from "./progress.ts";
export { completionSpec, bashCompletion, zshCompletion, type CompletionSpec } from "./completion.ts";
export { ticksAround, cronProblem } from "./cron.ts";
