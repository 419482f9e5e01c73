// Shared set-up of the built-in tools' e2e suites: a real database server from Debian's
// packages running as a one-replica StatefulSet on the local node, as its system user, with its
// data on the pod's PVC, listening on a free loopback port, and the Secret its tools log in with.
import { expect } from "chai";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { AppsV1Api, CoreV1Api, type KubeConfig, type V1EnvVar } from "@kubernetes/client-node";
import type { Backup } from "@dataprotection/api";
import { backupInPhase } from "../backup/fixtures.ts";

const run = promisify(execFile);

export { freePort } from "@dataprotection/testenv";

export interface Ids {
  uid: number;
  gid: number;
}

/** uid and gid of a system user the package created (postgres, mysql, redis). */
export async function systemUser(name: string): Promise<Ids> {
  const uid = Number((await run("id", ["-u", name])).stdout.trim());
  const gid = Number((await run("id", ["-g", name])).stdout.trim());
  return { uid, gid };
}

export interface DatabaseStatefulSet {
  /** The StatefulSet's name; its pod is <name>-0 and its claim data-<name>-0. */
  name: string;
  labels: Record<string, string>;
  container: string;
  image: string;
  /** The server's start script (sh -c), run as `ids`. */
  script: string;
  env: V1EnvVar[];
  port: number;
  ids: Ids;
  /** Run as root in an init container with the claim at /data, e.g. to chown the data directory. */
  prepare: string;
  storage: string;
  terminationGracePeriodSeconds: number;
  /** Also label the pod kubeblocks.io/role=primary (podScope ReadWrite restores pick it). */
  primary?: boolean;
}

export async function createDatabaseStatefulSet(kc: KubeConfig, ns: string, s: DatabaseStatefulSet): Promise<void> {
  await kc.makeApiClient(AppsV1Api).createNamespacedStatefulSet({ namespace: ns, body: {
    metadata: { name: s.name, labels: s.labels },
    spec: {
      replicas: 1,
      serviceName: s.name,
      selector: { matchLabels: s.labels },
      template: {
        metadata: { labels: { ...s.labels, ...(s.primary ? { "kubeblocks.io/role": "primary" } : {}) } },
        spec: {
          initContainers: [{
            name: "datadir", image: "busybox", command: ["sh", "-c", s.prepare],
            securityContext: { runAsUser: 0 },
            volumeMounts: [{ name: "data", mountPath: "/data" }],
          }],
          containers: [{
            name: s.container, image: s.image, command: ["sh", "-c", s.script], env: s.env,
            ports: [{ containerPort: s.port }],
            securityContext: { runAsUser: s.ids.uid, runAsGroup: s.ids.gid },
            volumeMounts: [{ name: "data", mountPath: "/data" }],
          }],
          terminationGracePeriodSeconds: s.terminationGracePeriodSeconds,
        },
      },
      volumeClaimTemplates: [{ metadata: { name: "data" }, spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: s.storage } } } }],
    },
  } });
}

/** The Secret a policy's and a RestoreJob's target.secret name (keys username and password). */
export async function createCredentials(kc: KubeConfig, ns: string, name: string, username: string, password: string): Promise<void> {
  await kc.makeApiClient(CoreV1Api).createNamespacedSecret({ namespace: ns, body: { metadata: { name }, stringData: { username, password } } });
}

/**
 * Waits for Backup ns/name to complete and checks what every built-in tool fills: tool and
 * source cluster, size and times, the backup path, the checksum and the one object it stored.
 */
export async function expectToolBackup(kc: KubeConfig, ns: string, name: string, o: { tool: string; cluster: string; object: string }): Promise<Backup> {
  const b = await backupInPhase(kc, ns, name, ["Completed"], 240_000);
  const s = b.status!;
  expect(s.backupToolName).to.equal(o.tool);
  expect(s.sourceCluster).to.equal(o.cluster);
  expect(s.totalSize).to.match(/^[0-9.]+(Ki|Mi|Gi)?$/);
  expect(s.startTimestamp).to.be.a("string");
  expect(s.completionTimestamp).to.be.a("string");
  const bt = s.manifests!.backupTool!;
  expect(bt.filePath).to.equal(`/${ns}/${name}`);
  expect(bt.checksum).to.match(/^sha256:[0-9a-f]{64}$/);
  expect((bt.files ?? []).map((f) => f.name)).to.deep.equal([o.object]);
  // One object: its own checksum is the backup's, its size is the backup's size.
  expect(bt.files![0]).to.deep.equal({ name: o.object, size: s.totalSize, checksum: bt.checksum });
  return b;
}

/**
 * The start script of a PostgreSQL 15 server pod: initdb into /data/pgdata on first start (md5
 * auth with the password in $PGPW, loopback only, a replication entry for pg_basebackup), then
 * the server on `port`. Runs as the postgres user.
 */
export function postgresServerScript(port: number): string {
  return [
    "set -e",
    "export PATH=/usr/lib/postgresql/15/bin:$PATH",
    "D=/data/pgdata",
    'if [ ! -s "$D/PG_VERSION" ]; then',
    '  pw=/data/pwfile; printf %s "$PGPW" > "$pw"',
    '  initdb -D "$D" -U postgres --auth=md5 --pwfile="$pw"',
    '  rm -f "$pw"',
    `  echo "listen_addresses='127.0.0.1'" >> "$D/postgresql.conf"`,
    '  echo "host replication postgres 127.0.0.1/32 md5" >> "$D/pg_hba.conf"',
    "fi",
    `exec postgres -D "$D" -p ${port} -k /tmp`,
  ].join("\n");
}

/**
 * The start script of a MariaDB 10.11 server pod: mariadb-install-db into /data/mysql on first
 * start (root@localhost socket-only), then mariadbd on `port` (127.0.0.1 only, socket in a temp
 * dir) with an init file that (re)creates admin@'%' with the password in $ADMIN_PW on every start.
 * `options` are appended to mariadbd's command line (e.g. --log-bin). Runs as the mysql user.
 */
export function mariadbServerScript(port: number, options = ""): string {
  return [
    "set -e",
    "D=/data/mysql",
    'if [ ! -d "$D/mysql" ]; then',
    '  mariadb-install-db --no-defaults --datadir="$D" --auth-root-authentication-method=socket --skip-test-db > /data/install.log 2>&1',
    "fi",
    "run=`mktemp -d`",
    'printf "%s\\n" "CREATE USER IF NOT EXISTS admin@\'%\' IDENTIFIED BY \'$ADMIN_PW\';" "GRANT ALL PRIVILEGES ON *.* TO admin@\'%\' WITH GRANT OPTION;" > "$run/init.sql"',
    `exec mariadbd --no-defaults --datadir="$D" --socket="$run/mysqld.sock" --pid-file="$run/mysqld.pid" --port=${port} --bind-address=127.0.0.1`
      + ' --skip-name-resolve --innodb-buffer-pool-size=32M --init-file="$run/init.sql"' + (options ? ` ${options}` : ""),
  ].join("\n");
}
