import type { Manager } from "@dataprotection/runtime";
import type { OperatorContext } from "../options.ts";

/** Registers the BackupRepo controller. (Scaffold: the controller is being written.) */
export function registerBackupRepoController(_manager: Manager, _ctx: OperatorContext): void {}
