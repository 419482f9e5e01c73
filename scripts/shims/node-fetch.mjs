// Stands in for node-fetch in the bundled programs (scripts/build.mjs). @kubernetes/client-node
// imports it for makeApiClient, Watch, Log, Metrics and KubeConfig.applyToFetchOptions, which
// these programs never call (they take KubeConfig.applyToHTTPSOptions into their own client);
// bundling it brought whatwg-url and tr46's Unicode tables (~9 MiB of RSS). A call fails loudly
// instead of silently sending a request without the kubeconfig's TLS agent.
export class Headers extends globalThis.Headers {}

/** Re-exported by client-node's index for instanceof checks; nothing here throws them. */
export class AbortError extends Error {}
export class FetchError extends Error {}

export default function fetch() {
  throw new Error("node-fetch is not bundled in this program: use KubeClient from @dataprotection/runtime");
}
