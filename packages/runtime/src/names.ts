import { createHash } from "node:crypto";

/** Longest DNS-1123 label, the limit for most object names and label values. */
export const MaxNameLength = 63;

const HashLength = 8;

/**
 * The name of a child object: `${parent}-${suffix}` when it fits, else the parent
 * truncated and a hash of the full name, so the same inputs always give the same
 * name (a restarted controller finds its children) and long parents stay distinct.
 */
export function childName(parent: string, suffix: string, max = MaxNameLength): string {
  const full = suffix ? `${parent}-${suffix}` : parent;
  if (full.length <= max) return full;
  const hash = createHash("sha256").update(full).digest("hex").slice(0, HashLength);
  const tail = `-${hash}${suffix ? `-${suffix}` : ""}`;
  if (tail.length + 1 > max) return `${trimEnd(full.slice(0, max - HashLength - 1))}-${hash}`;
  return `${trimEnd(parent.slice(0, max - tail.length))}${tail}`;
}

// A truncated name must still end with an alphanumeric character.
function trimEnd(s: string): string {
  return s.replace(/[-.]+$/, "");
}

/**
 * An object's name as a label value (at most 63 characters, where names may have 253): the name
 * itself when it fits, else childName's bounded form with a hash of the whole name.
 */
export function labelValue(name: string): string {
  return name.length <= MaxNameLength ? name : childName(name, "");
}

/** Which of `names` a label value written by labelValue stands for (the value itself when none does). */
export function nameForLabelValue(value: string, names: Iterable<string>): string {
  for (const n of names) if (labelValue(n) === value) return n;
  return value;
}

/** True when s is a valid DNS-1123 label (what childName keeps valid). */
export function isDnsLabel(s: string): boolean {
  return s.length > 0 && s.length <= MaxNameLength && /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(s);
}
