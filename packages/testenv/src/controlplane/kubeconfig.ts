import { stringify } from "yaml";

/** A kubeconfig with the client certificate embedded, so the file works from anywhere. */
export function adminKubeconfigYaml(server: string, caPem: string, certPem: string, keyPem: string): string {
  const b64 = (s: string) => Buffer.from(s).toString("base64");
  return stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: "testenv", cluster: { server, "certificate-authority-data": b64(caPem) } }],
    users: [{ name: "admin", user: { "client-certificate-data": b64(certPem), "client-key-data": b64(keyPem) } }],
    contexts: [{ name: "testenv", context: { cluster: "testenv", user: "admin", namespace: "default" } }],
    "current-context": "testenv",
  });
}
