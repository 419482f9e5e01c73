import type { Manager } from "@dataprotection/runtime";
import type { OperatorContext } from "../options.ts";

/** Registers the BackupPolicy controller. (Scaffold: the controller is being written.) */
export function registerBackupPolicyController(_manager: Manager, _ctx: OperatorContext): void {}
