// A tiny CRD with a status subresource, so status helpers are tested without the project's CRDs.
import type { KubernetesObject } from "@kubernetes/client-node";
import type { Kind } from "../src/index.ts";

export const WidgetKind: Kind = { group: "runtime.test.dataprotection.io", version: "v1", kind: "Widget", plural: "widgets", namespaced: true };

export const widgetCrd: KubernetesObject & Record<string, unknown> = {
  apiVersion: "apiextensions.k8s.io/v1",
  kind: "CustomResourceDefinition",
  metadata: { name: "widgets.runtime.test.dataprotection.io" },
  spec: {
    group: WidgetKind.group,
    names: { kind: "Widget", plural: "widgets", singular: "widget", listKind: "WidgetList" },
    scope: "Namespaced",
    versions: [
      {
        name: "v1",
        served: true,
        storage: true,
        subresources: { status: {} },
        schema: {
          openAPIV3Schema: {
            type: "object",
            properties: {
              spec: { type: "object", properties: { size: { type: "integer" }, valid: { type: "boolean" } } },
              status: { type: "object", properties: { phase: { type: "string" }, seen: { type: "integer" }, reason: { type: "string" }, note: { type: "string" } } },
            },
          },
        },
      },
    ],
  },
};
