import type { Manager } from "@dataprotection/runtime";
import type { OperatorContext } from "../options.ts";

/** Registers the RestoreJob controller. (Scaffold: the controller is being written.) */
export function registerRestoreJobController(_manager: Manager, _ctx: OperatorContext): void {}
