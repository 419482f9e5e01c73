// The top-level shape of a kind: apiVersion, kind, metadata, spec, status.
import { Type, type TSchema } from "@sinclair/typebox";
import { TYPE_DOC, describe } from "./helpers.ts";
import { ObjectMeta } from "./k8s.ts";

export function resource<A extends string, K extends string, S extends TSchema, St extends TSchema>(
  apiVersion: A, kind: K, doc: string, spec: S, status: St,

) {
  return Type.Object({
    apiVersion: Type.Literal(apiVersion, { description: `APIVersion of this object: ${apiVersion}.` }),
    kind: Type.Literal(kind, { description: `Kind of this object: ${kind}.` }),
    metadata: describe(ObjectMeta, "Standard object metadata.", { additionalProperties: true }),
    spec: describe(spec, `The desired state of the ${kind}.`),
    status: Type.Optional(describe(status, `The observed state of the ${kind}, written by the controller.`)),
  }, { title: kind, description: doc, [TYPE_DOC]: doc, additionalProperties: false });
}
