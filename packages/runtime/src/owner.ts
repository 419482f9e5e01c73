import type { V1OwnerReference } from "@kubernetes/client-node";
import { apiVersionOf, type Kind } from "./kinds.ts";
import type { KubeObject } from "./object.ts";

/** An owner reference to owner; controller refs also block the owner's foreground deletion. */
export function ownerReference(owner: KubeObject, ownerKind: Kind, controller = true): V1OwnerReference {
  const { name, uid } = owner.metadata;
  if (!name || !uid) throw new Error("owner must have a name and uid (use an object read from the API server)");
  return { apiVersion: apiVersionOf(ownerKind), kind: ownerKind.kind, name, uid, controller, blockOwnerDeletion: controller };
}

/**
 * Sets owner as the controller of child (a new object the caller is building).
 * Throws if another object already controls it.
 */
export function setControllerReference<T extends KubeObject>(child: T, owner: KubeObject, ownerKind: Kind): T {
  const ref = ownerReference(owner, ownerKind, true);
  const refs = child.metadata.ownerReferences ?? [];
  const other = refs.find((r) => r.controller && r.uid !== ref.uid);
  if (other) throw new Error(`${child.metadata.name} is already controlled by ${other.kind} ${other.name}`);
  child.metadata.ownerReferences = [...refs.filter((r) => r.uid !== ref.uid), ref];
  return child;
}

/** The controller owner reference of obj, if any. */
export function controllerOf(obj: KubeObject): V1OwnerReference | undefined {
  return (obj.metadata.ownerReferences ?? []).find((r) => r.controller);
}

export function isOwnedBy(obj: KubeObject, owner: KubeObject): boolean {
  return (obj.metadata.ownerReferences ?? []).some((r) => r.uid === owner.metadata.uid);
}

/** Whether an owner reference points at the given kind (group must match, version may differ). */
export function refersTo(ref: V1OwnerReference, kind: Kind): boolean {
  const group = ref.apiVersion.includes("/") ? ref.apiVersion.split("/")[0] : "";
  return ref.kind === kind.kind && group === kind.group;
}
