import type { StorageProvider } from "@dataprotection/api";
import type { Manager, KubeObject } from "@dataprotection/runtime";
import { Kinds } from "../kinds.ts";
import type { OperatorContext } from "../options.ts";
import { reconcileStorageProvider } from "./reconcile.ts";

/** Registers the StorageProvider controller: for(StorageProvider), watches(CSIDriver). */
export function registerStorageProviderController(manager: Manager, _ctx: OperatorContext): void {
  manager
    .controller("storageprovider")
    .for(Kinds.StorageProvider)
    .watches(Kinds.CSIDriver, (driver) =>
      manager.cache
        .list<StorageProvider & KubeObject>(Kinds.StorageProvider)
        .filter((p) => p.spec.csiDriverName === driver.metadata.name)
        .map((p) => ({ name: p.metadata.name! })),
    )
    .reconciler(reconcileStorageProvider);
}
