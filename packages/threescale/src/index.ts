// Public surface of @dataprotection/threescale: the BackupTool, its RBAC, and the
// APIManagerBackup/APIManagerRestore controllers.
export { threescaleTool, threescaleToolFor, toolRbac, TOOL_NAME, PLAIN_TOOL_NAME, TOOL_ACCOUNT, TOOL_CLUSTER_ROLE, TOOL_ENV, BACKUP_COMMAND, RESTORE_COMMAND } from "./tool/definition.ts";
export { threescaleControllers } from "./controller/index.ts";
export type { PluginContext, ThreescaleOptions } from "./controller/reconcile.ts";
export { Reason } from "./tool/reasons.ts";
export * as layout from "./tool/layout.ts";
export { componentDeployment, fileStorageOf, runByAPIManager, systemStorageClaim, selectAPIManager, type APIManagerObject } from "./tool/apimanager.ts";
