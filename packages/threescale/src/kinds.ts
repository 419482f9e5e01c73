import { Kinds as Builtin, type Kind } from "@dataprotection/runtime";

export const Kinds = {
  ...Builtin,
  Deployment: { group: "apps", version: "v1", kind: "Deployment", plural: "deployments", namespaced: true },
  APIManager: { group: "apps.3scale.net", version: "v1alpha1", kind: "APIManager", plural: "apimanagers", namespaced: true },
  APIManagerBackup: { group: "apps.3scale.net", version: "v1alpha1", kind: "APIManagerBackup", plural: "apimanagerbackups", namespaced: true },
} satisfies Record<string, Kind>;

export const RbacKinds = {
  ServiceAccount: { group: "", version: "v1", kind: "ServiceAccount", plural: "serviceaccounts", namespaced: true },
  RoleBinding: { group: "rbac.authorization.k8s.io", version: "v1", kind: "RoleBinding", plural: "rolebindings", namespaced: true },
} satisfies Record<string, Kind>;
