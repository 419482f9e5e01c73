import type { Manager } from "@dataprotection/runtime";
import type { OperatorContext } from "../options.ts";

/** Registers the BackupTool controller. (Scaffold: the controller is being written.) */
export function registerBackupToolController(_manager: Manager, _ctx: OperatorContext): void {}
