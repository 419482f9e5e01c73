import type { Manager } from "@dataprotection/runtime";
import type { OperatorContext } from "../options.ts";

/** Registers the StorageProvider controller. (Scaffold: the controller is being written.) */
export function registerStorageProviderController(_manager: Manager, _ctx: OperatorContext): void {}
