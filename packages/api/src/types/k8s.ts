// Static types of the embedded Kubernetes schemas, named as upstream.
import type { Static } from "@sinclair/typebox";
import type * as k from "../schemas/k8s.ts";

export type Condition = Static<typeof k.Condition>;
export type EnvVar = Static<typeof k.EnvVar>;
export type EnvFromSource = Static<typeof k.EnvFromSource>;
export type LabelSelector = Static<typeof k.LabelSelector>;
export type ResourceRequirements = Static<typeof k.ResourceRequirements>;
export type Volume = Static<typeof k.Volume>;
export type VolumeMount = Static<typeof k.VolumeMount>;
export type SecretReference = Static<typeof k.SecretReference>;
export type ObjectMeta = Static<typeof k.ObjectMeta>;
