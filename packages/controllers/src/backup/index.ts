import type { Manager } from "@dataprotection/runtime";
import type { OperatorContext } from "../options.ts";

/** Registers the Backup controller. (Scaffold: the controller is being written.) */
export function registerBackupController(_manager: Manager, _ctx: OperatorContext): void {}
