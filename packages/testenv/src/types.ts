import type { KubeConfig } from "@kubernetes/client-node";

/** Options for {@link startControlPlane}. */
export interface ControlPlaneOptions {
  /** Directory with etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubectl. Default: the build cache. */
  binDir?: string;
  /** Where state (certs, etcd data, logs, kubeconfig) lives. Default: a new temp dir, removed by stop(). */
  dir?: string;
  /** Also start kube-controller-manager (default true). */
  controllerManager?: boolean;
  /** Also start kube-scheduler (default true). */
  scheduler?: boolean;
  /** Write the admin kubeconfig here too (e.g. `.dp/kubeconfig`). */
  kubeconfigPath?: string;
  /** Print component output to the console instead of only to log files. */
  verbose?: boolean;
  /** More kube-controller-manager flags (e.g. a short --node-monitor-grace-period for node-failure tests). */
  controllerManagerArgs?: string[];
  /**
   * Audit kube-apiserver's requests with this policy (an audit.k8s.io/v1 Policy object), as JSON
   * lines into {@link ControlPlane.auditLogPath}. Default: no audit log.
   */
  auditPolicy?: Record<string, unknown>;
}

/** A running etcd + kube-apiserver (+ controller-manager, scheduler) on loopback. */
export interface ControlPlane {
  /** Admin credentials (client cert in system:masters). */
  kubeConfig: KubeConfig;
  /** Path of the admin kubeconfig file. */
  kubeconfigPath: string;
  /** https://127.0.0.1:PORT */
  server: string;
  /** State directory (certs/, etcd/, logs/). */
  dir: string;
  binDir: string;
  /** PEM of the CA that signed the API server's serving cert (what pods get as ca.crt). */
  caPem: string;
  /** The etcd client URL (http://127.0.0.1:PORT). */
  etcdUrl: string;
  /** The audit log (JSON lines, one event per line) when started with `auditPolicy`. */
  auditLogPath?: string;
  /** Kill and start kube-apiserver again on the same port; resolves when /readyz is ok. */
  restartApiServer(): Promise<void>;
  /** SIGKILL etcd and start it again on its data and port; resolves when etcd and the API server are ready. */
  restartEtcd(): Promise<void>;
  /** Compact etcd at its current revision so watches from older resourceVersions get 410 Gone. */
  compactEtcd(): Promise<void>;
  /** Stop every process and remove the temp dir (if it made one). Idempotent. */
  stop(): Promise<void>;
}
