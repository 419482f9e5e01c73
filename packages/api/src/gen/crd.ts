// CustomResourceDefinition objects built from the kinds registry.
import { kinds, type KindInfo } from "../kinds.ts";
import { toStructural, type JsonSchema } from "./structural.ts";

export interface CrdDocument {
  apiVersion: "apiextensions.k8s.io/v1";
  kind: "CustomResourceDefinition";
  metadata: { name: string; labels: Record<string, string> };
  spec: JsonSchema;
}

/** The CRD's openAPIV3Schema: the kind's schema with the root fields in the shape the API server requires. */
export function crdSchema(info: KindInfo): JsonSchema {
  const root = toStructural(info.schema);
  const props = root.properties as Record<string, JsonSchema>;
  const group = `${info.group}/${info.version}`;
  props.apiVersion = {
    description: `APIVersion defines the versioned schema of this representation of an object (${group}).`,
    type: "string",
  };
  props.kind = { description: `Kind is a string value representing the REST resource this object represents (${info.kind}).`, type: "string" };
  props.metadata = { type: "object" };
  // Only spec is required at the root: apiVersion/kind are checked by the API server itself.
  root.required = ["spec"];
  return root;
}

export function crdDocument(info: KindInfo): CrdDocument {
  return {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: { name: `${info.plural}.${info.group}`, labels: { "app.kubernetes.io/part-of": "dataprotection" } },
    spec: {
      group: info.group,
      names: {
        kind: info.kind,
        listKind: `${info.kind}List`,
        plural: info.plural,
        singular: info.singular,
        ...(info.shortNames.length ? { shortNames: info.shortNames } : {}),
        categories: info.categories,
      },
      scope: info.scope,
      versions: [{
        name: info.version,
        served: true,
        storage: true,
        subresources: { status: {} },
        additionalPrinterColumns: info.printerColumns,
        schema: { openAPIV3Schema: crdSchema(info) },
      }],
    },
  };
}

/** Every CRD of the project, in a stable order. */
export function crdDocuments(): CrdDocument[] {
  return kinds.map(crdDocument);
}

/** crds/<group>_<plural>.yaml */
export function crdFileName(info: KindInfo): string {
  return `${info.group}_${info.plural}.yaml`;
}
