// A backup is proven only by its restore. This lists every kind of backup the project makes
// (each backup type, each data format, each built-in tool) with the e2e test that makes one and
// restores it with a RestoreJob; it fails when a kind has no row (a new type, format or built-in
// tool must bring its round trip) or when a row's test no longer exists or restores nothing.
import { expect } from "chai";
import { readFile } from "node:fs/promises";
import { BackupDataFormat, BackupType, values } from "@dataprotection/api";
import { builtinTools } from "@dataprotection/tools";
import { TOOL_NAME as THREESCALE_TOOL } from "../packages/threescale/src/index.ts";

interface RoundTrip {
  /** e2e file, relative to e2e/. */
  file: string;
  /** A substring of the test's title. */
  test: string;
}

const byType: Record<BackupType, RoundTrip> = {
  datafile: { file: "backup/datafile.test.ts", test: "restores it with the tool's own restore command" },
  logfile: { file: "backup/pitr-roundtrip.test.ts", test: "replays the archived log to the chosen second" },
  snapshot: { file: "restore/snapshot.test.ts", test: "each from its own VolumeSnapshot of a real snapshot Backup" },
};
const incremental: RoundTrip = { file: "backup/incremental.test.ts", test: "restores the whole chain into a fresh claim byte-identical" };

const byFormat: Record<BackupDataFormat, RoundTrip> = {
  Agent: { file: "tools/postgres.test.ts", test: "postgres-basebackup: pg_basebackup -Ft -X fetch through dp-agent, then a physical RestoreJob" },
  PlainFiles: { file: "tools/kubeblocks06.test.ts", test: "on the ${repo} repo" },
  SealedPlainFiles: { file: "tools/kubeblocks06.test.ts", test: "on the ${repo} repo" },
};

const byTool: Record<string, RoundTrip> = {
  "volume": { file: "backup/incremental.test.ts", test: "restores the whole chain" },
  "kb-basebackup-files": { file: "backup/datafile.test.ts", test: "restores it with the tool's own restore command" },
  "postgres-dump": { file: "tools/postgres.test.ts", test: "postgres-dump: pg_dumpall through dp-agent, then a logical RestoreJob" },
  "postgres-basebackup": { file: "tools/postgres.test.ts", test: "postgres-basebackup: pg_basebackup -Ft -X fetch through dp-agent, then a physical RestoreJob" },
  "postgres-pitr": { file: "tools/postgres-pitr.test.ts", test: "restores three points in the archived window" },
  "mariadb-dump": { file: "tools/mariadb.test.ts", test: "a logical RestoreJob" },
  "mariadb-backup": { file: "tools/mariadb.test.ts", test: "mariadb-backup: a hot physical copy" },
  "mariadb-binlog-pitr": { file: "tools/mariadb-pitr.test.ts", test: "restores three points in the archived window" },
  "redis-rdb": { file: "tools/redis.test.ts", test: "a physical RestoreJob brings back exactly the keys of backup time" },
  "redis-rdb-online": { file: "tools/redis.test.ts", test: "redis-rdb-online: the same RDB backup, and a logical RestoreJob loads it into the running server" },
  [THREESCALE_TOOL]: { file: "threescale/generic.test.ts", test: "restores them after the APIManager's objects are gone" },
};

/** The body of the `it(` whose title contains `test`, up to the next `it(` (or the end of the file). */
async function testBody(r: RoundTrip): Promise<string | undefined> {
  const text = await readFile(new URL(r.file, import.meta.url), "utf8");
  const at = text.indexOf(r.test);
  if (at < 0) return undefined;
  const start = text.lastIndexOf("it(", at);
  const next = text.indexOf("\n  it(", at);
  return text.slice(start, next < 0 ? undefined : next);
}

describe("Round-trip matrix: every kind of backup is restored in e2e", () => {
  it("has a row for every backup type, data format and built-in tool", () => {
    expect(Object.keys(byType).sort()).to.deep.equal([...values(BackupType)].sort());
    expect(Object.keys(byFormat).sort()).to.deep.equal([...values(BackupDataFormat)].sort());
    expect(Object.keys(byTool).sort()).to.deep.equal([...builtinTools.map((t) => t.metadata!.name!), THREESCALE_TOOL].sort());
  });

  const rows: Array<[string, RoundTrip]> = [
    ...Object.entries(byType).map(([k, r]) => [`type ${k}`, r] as [string, RoundTrip]),
    ["incremental chain", incremental],
    ...Object.entries(byFormat).map(([k, r]) => [`format ${k}`, r] as [string, RoundTrip]),
    ...Object.entries(byTool).map(([k, r]) => [`tool ${k}`, r] as [string, RoundTrip]),
  ];
  for (const [kind, r] of rows) {
    it(`${kind}: e2e/${r.file} restores it with a RestoreJob and compares the data`, async () => {
      const body = await testBody(r);
      expect(body, `no test titled "…${r.test}…" in e2e/${r.file}`).to.be.a("string");
      expect(body!, "the test creates a RestoreJob").to.match(/createRestoreJob|expectRestoredTree|Kinds\.RestoreJob|restorejobs|APIManagerRestore/);
      expect(body!, "the test compares restored data with the source").to.match(/\.to\.(deep\.)?equal\(|\.equals\(/);
    });
  }
});
