// Embedded Kubernetes types, structural and close to the upstream OpenAPI (the subset a
// backup tool or restore needs; Volume whole, generated from the upstream document). Each
// carries K8S_TYPE so the docs name the upstream type.
import { Type, type TObject, type TProperties, type ObjectOptions, type TUnsafe, type TString } from "@sinclair/typebox";
import { K8S_TYPE, TYPE_DOC, int64, str, bool, stringMap, mapOf, arrayOf, object, stringEnum } from "./helpers.ts";
import type { V1Volume } from "@kubernetes/client-node";
import { ConditionStatus, LabelSelectorOperator, values } from "../enums.ts";
import { inlineOpenApiSchema } from "./openapi.ts";
import k8sOpenApi from "./k8s-openapi.json" with { type: "json" };

function k8s<P extends TProperties>(typeName: string, doc: string, props: P, extra: ObjectOptions = {}): TObject<P> {
  return Type.Object(props, { [K8S_TYPE]: typeName, description: doc, [TYPE_DOC]: doc, additionalProperties: false, ...extra });
}

/** resource.Quantity: an int or a string such as "10Gi" (same pattern as upstream CRDs). */
export const QUANTITY_PATTERN =
  "^(\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))))?$";
export const Quantity: TUnsafe<string | number> = Type.Unsafe<string | number>({
  anyOf: [{ type: "integer" }, { type: "string" }],
  pattern: QUANTITY_PATTERN,
  "x-kubernetes-int-or-string": true,
  [K8S_TYPE]: "resource.Quantity",
  description: "A fixed-point quantity such as 10Gi, 500m or 1024.",
});

/** meta/v1.Time: RFC 3339 date-time. */
export const Time: TString = Type.String({ format: "date-time", [K8S_TYPE]: "meta/v1.Time", description: "An RFC 3339 date-time." });

/** meta/v1.Duration as Go prints it, e.g. "1h2m0.5s". */
export const Duration: TString = Type.String({
  pattern: "^-?(0|([0-9]+(\\.[0-9]+)?(ns|us|µs|ms|s|m|h))+)$",
  [K8S_TYPE]: "meta/v1.Duration",
  description: "A Go duration string such as 1h2m0.5s.",
});

export const LabelSelectorRequirement = k8s("meta/v1.LabelSelectorRequirement", "A selector requirement: a key, an operator and values.", {
  key: str("The label key that the selector applies to."),
  operator: stringEnum("LabelSelectorOperator", values(LabelSelectorOperator), "How the key relates to the values: In, NotIn, Exists or DoesNotExist."),
  values: Type.Optional(arrayOf(Type.String(), "The values for In and NotIn (must be non-empty there); empty for Exists and DoesNotExist.", { "x-kubernetes-list-type": "atomic" })),
}, { required: ["key", "operator"] });

export const LabelSelector = k8s("meta/v1.LabelSelector", "A label query over a set of resources; the results of matchLabels and matchExpressions are ANDed. An empty selector matches everything.", {
  matchLabels: Type.Optional(stringMap("Key/value pairs; each is equivalent to a matchExpressions element with operator In and a single value.")),
  matchExpressions: Type.Optional(arrayOf(LabelSelectorRequirement, "Label selector requirements, ANDed.", { "x-kubernetes-list-type": "atomic" })),
}, { "x-kubernetes-map-type": "atomic" });

export const SecretReference = k8s("core/v1.SecretReference", "A reference to a Secret by name and namespace.", {
  name: Type.Optional(str("The name of the Secret.")),
  namespace: Type.Optional(str("The namespace of the Secret.")),
}, { "x-kubernetes-map-type": "atomic" });

const keySelector = (what: string) => object({
  key: str(`The key of the ${what} to select.`),
  name: Type.Optional(str(`The name of the ${what} in the pod's namespace.`, { default: "" })),
  optional: Type.Optional(bool(`Whether the ${what} or its key may be missing.`)),
}, `Selects a key of a ${what}.`, { required: ["key"], "x-kubernetes-map-type": "atomic" });

const ObjectFieldSelector = object({
  apiVersion: Type.Optional(str('Version of the schema the fieldPath is written in (default "v1").')),
  fieldPath: str("Path of the field to select, e.g. status.podIP or metadata.name."),
}, "Selects a field of the pod.", { "x-kubernetes-map-type": "atomic" });

const ResourceFieldSelector = object({
  containerName: Type.Optional(str("Container name; required for volumes, optional for env vars.")),
  divisor: Type.Optional({ ...Quantity, description: 'Output format of the exposed resources (default "1").' }),
  resource: str("Required: resource to select, e.g. limits.memory."),
}, "Selects a resource of the container: limits and requests.", { "x-kubernetes-map-type": "atomic" });

export const EnvVar = k8s("core/v1.EnvVar", "An environment variable of a container.", {
  name: str("Name of the environment variable (a C_IDENTIFIER)."),
  value: Type.Optional(str("The value; $(VAR_NAME) references to earlier variables are expanded.")),
  valueFrom: Type.Optional(object({
    configMapKeyRef: Type.Optional(keySelector("ConfigMap")),
    fieldRef: Type.Optional(ObjectFieldSelector),
    resourceFieldRef: Type.Optional(ResourceFieldSelector),
    secretKeyRef: Type.Optional(keySelector("Secret")),
  }, "Source for the value; cannot be used if value is not empty.")),
});

const envFromRef = (what: string) => object({
  name: Type.Optional(str(`The name of the ${what}.`, { default: "" })),
  optional: Type.Optional(bool(`Whether the ${what} must be defined.`)),
}, `The ${what} to select from.`, { "x-kubernetes-map-type": "atomic" });

export const EnvFromSource = k8s("core/v1.EnvFromSource", "A source of a set of environment variables (a ConfigMap or a Secret).", {
  configMapRef: Type.Optional(envFromRef("ConfigMap")),
  prefix: Type.Optional(str("A prefix prepended to every key (a C_IDENTIFIER).")),
  secretRef: Type.Optional(envFromRef("Secret")),
});

export const ResourceRequirements = k8s("core/v1.ResourceRequirements", "Compute resource requirements.", {
  claims: Type.Optional(arrayOf(object({
    name: str("Name of one entry in pod.spec.resourceClaims."),
    request: Type.Optional(str("Name of the request in the claim to use.")),
  }, "A reference to one resource claim of the pod.", { required: ["name"] }), "Dynamically allocated resources (DRA) used by this container.", {
    "x-kubernetes-list-type": "map",
    "x-kubernetes-list-map-keys": ["name"],
  })),
  limits: Type.Optional(mapOf(Quantity, "Maximum amount of compute resources allowed.")),
  requests: Type.Optional(mapOf(Quantity, "Minimum amount of compute resources required; defaults to limits when omitted.")),
});

/**
 * core/v1.Volume, every source, generated: the schema of io.k8s.api.core.v1.Volume (and all it
 * references) from the OpenAPI document of the kube-apiserver the project builds, vendored in
 * k8s-openapi.json by `npm run gen` and inlined by openapi.ts, so it cannot drift from
 * Kubernetes. Quantity and Time take the forms every CRD uses.
 */
export const Volume: TUnsafe<V1Volume> = Type.Unsafe<V1Volume>({
  ...inlineOpenApiSchema(k8sOpenApi.schemas as Record<string, Record<string, unknown>>, "io.k8s.api.core.v1.Volume", {
    replace: {
      "io.k8s.apimachinery.pkg.api.resource.Quantity": { ...Quantity },
      "io.k8s.apimachinery.pkg.apis.meta.v1.Time": { ...Time },
    },
    closed: true,
  }),
  [K8S_TYPE]: "core/v1.Volume",
  [TYPE_DOC]: "A named volume of a pod, with any of the Kubernetes volume sources.",
});

export const VolumeMount = k8s("core/v1.VolumeMount", "A mounting of a volume within a container.", {
  mountPath: str("Path within the container at which the volume is mounted; must not contain ':'."),
  mountPropagation: Type.Optional(str("How mounts are propagated between host and container (None, HostToContainer, Bidirectional).")),
  name: str("Must match the name of a volume."),
  readOnly: Type.Optional(bool("Mount read-only when true (default false).")),
  recursiveReadOnly: Type.Optional(str("Whether read-only mounts are recursively read-only (Disabled, IfPossible, Enabled).")),
  subPath: Type.Optional(str("Path within the volume to mount instead of its root.")),
  subPathExpr: Type.Optional(str("Like subPath but $(VAR_NAME) references are expanded from the container's environment.")),
}, { required: ["mountPath", "name"] });

export const Condition = k8s("meta/v1.Condition", "One aspect of the current state of a resource.", {
  lastTransitionTime: { ...Time, description: "The last time the condition changed from one status to another." },
  message: str("A human readable message with details about the transition.", { maxLength: 32768 }),
  observedGeneration: Type.Optional(int64("The .metadata.generation the condition was set from.", { minimum: 0 })),
  reason: str("A programmatic identifier (CamelCase) for the condition's last transition.", {
    maxLength: 1024,
    minLength: 1,
    pattern: "^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$",
  }),
  status: { ...stringEnum("ConditionStatus", values(ConditionStatus), "True, False or Unknown."), description: "Status of the condition: True, False or Unknown." },
  type: str("Type of condition in CamelCase or foo.example.com/CamelCase.", {
    maxLength: 316,
    pattern: "^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$",
  }),
}, { required: ["lastTransitionTime", "message", "reason", "status", "type"] });

/** `conditions` as a list-map keyed by type, like every upstream API. */
export const conditions = (description: string, extra: Record<string, unknown> = {}) =>
  arrayOf(Condition, description, { "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"], maxItems: 32, ...extra });

/** The ObjectMeta fields we read; the CRD emits metadata as a bare object, as the API server requires. */
export const ObjectMeta = Type.Object({
  name: Type.Optional(Type.String()),
  generateName: Type.Optional(Type.String()),
  namespace: Type.Optional(Type.String()),
  uid: Type.Optional(Type.String()),
  resourceVersion: Type.Optional(Type.String()),
  generation: Type.Optional(Type.Integer()),
  creationTimestamp: Type.Optional(Type.String()),
  deletionTimestamp: Type.Optional(Type.String()),
  labels: Type.Optional(Type.Record(Type.String(), Type.String())),
  annotations: Type.Optional(Type.Record(Type.String(), Type.String())),
  finalizers: Type.Optional(Type.Array(Type.String())),
  ownerReferences: Type.Optional(Type.Array(Type.Object({
    apiVersion: Type.String(),
    kind: Type.String(),
    name: Type.String(),
    uid: Type.String(),
    controller: Type.Optional(Type.Boolean()),
    blockOwnerDeletion: Type.Optional(Type.Boolean()),
  }))),
}, { [K8S_TYPE]: "meta/v1.ObjectMeta", description: "Standard object metadata." });
