import { expect } from "chai";
import { endpointEnv, externalEndpointTool, type BackupTool } from "@dataprotection/api";
import { componentToolName, endpointSecret, endpointSecretName, locateComponents, parseDatabaseUrl, type Engine } from "./endpoints.ts";

const ANY: Engine[] = ["mysql", "postgresql", "redis"];

describe("threescale includeDatabases: parseDatabaseUrl", () => {
  const ok: Array<[string, string, object]> = [
    ["3scale's MySQL URL", "mysql2://root:s3cr%40t@system-mysql/system", { engine: "mysql", host: "system-mysql", port: 3306, username: "root", password: "s3cr@t", database: "system" }],
    ["a PostgreSQL URL with a port", "postgresql://system:pw@db.example.com:6432/system", { engine: "postgresql", host: "db.example.com", port: 6432, username: "system", password: "pw", database: "system" }],
    ["postgres: is PostgreSQL", "postgres://u@10.0.0.7/zync_production", { engine: "postgresql", host: "10.0.0.7", port: 5432, username: "u", database: "zync_production" }],
    ["Redis with a password and a db number", "redis://:pw@backend-redis:6379/1", { engine: "redis", host: "backend-redis", port: 6379, password: "pw" }],
    ["Redis with an ACL user, no db", "redis://app:pw@127.0.0.1:6380", { engine: "redis", host: "127.0.0.1", port: 6380, username: "app", password: "pw" }],
    ["an IPv6 host loses its brackets", "redis://[fd00::1]:6379/0", { engine: "redis", host: "fd00::1", port: 6379 }],
    ["surrounding blanks are ignored", "  mariadb://u:p@h/db\n", { engine: "mysql", host: "h", port: 3306, username: "u", password: "p", database: "db" }],
  ];
  for (const [what, url, want] of ok) it(`accepts ${what}`, () => expect(parseDatabaseUrl(url, ANY, "K")).to.deep.equal({ ok: true, value: want }));

  const bad: Array<[string, string, RegExp, Engine[]?]> = [
    ["an empty value", " ", /empty/],
    ["garbage", "not a url", /does not parse/],
    ["another scheme", "http://h/db", /scheme "http" is not one of mysql2, mysql, mariadb, postgresql, postgres, redis/],
    ["TLS Redis (not supported yet)", "rediss://h:6379", /scheme/],
    ["an engine the component does not use", "redis://h", /names a redis server where mysql or postgresql is expected/, ["mysql", "postgresql"]],
    ["query options", "postgresql://u:p@h/db?sslmode=disable&host=/tmp", /query parameters/],
    ["a fragment", "mysql2://u:p@h/db#x", /fragments/],
    ["a host that is an option", "mysql2://u:p@-oProxyCommand=x/db", /host is not a DNS name/],
    ["a host with a shell metacharacter", "redis://h%3Bid:6379", /host is not a DNS name/],
    ["port 0", "redis://h:0", /port/],
    ["no database", "mysql2://u:p@h", /names no database/],
    ["a database that is a connection string", "postgresql://u:p@h/db%3Dx%20host%3Devil", /not plain/],
    ["a database that is an option", "postgresql://u:p@h/-W", /not plain/],
    ["a Redis database that is not a number", "redis://h/x", /not a number/],
    ["a password with a newline", "redis://:a%0Ab@h", /password is not printable/],
    ["a user name with NUL", "mysql2://a%00b:p@h/db", /user name is not printable/],
  ];
  for (const [what, url, re, allowed] of bad) {
    it(`refuses ${what}`, () => {
      const r = parseDatabaseUrl(url, allowed ?? ANY, 'Secret "ns/s" key URL');
      expect(r.ok).to.equal(false);
      if (!r.ok) {
        expect(r.message).to.match(re);
        expect(r.message).to.match(/^Secret "ns\/s" key URL is not a usable database URL: /);
      }
    });
  }

  it("never quotes the credentials in a message", () => {
    const r = parseDatabaseUrl("mysql2://root:hunter2@h/bad%3Dname", ANY, "K");
    expect(r.ok).to.equal(false);
    if (!r.ok) expect(r.message).not.to.contain("hunter2");
  });
});

const secrets = () => ({
  "system-database": { URL: "mysql2://root:rootpw@system-mysql/system", DB_USER: "mysql", DB_PASSWORD: "mysqlpw" },
  "system-redis": { URL: "redis://system-redis:6379/1" },
  "backend-redis": { REDIS_STORAGE_URL: "redis://backend-redis:6379/0", REDIS_QUEUES_URL: "redis://backend-redis:6379/1" },
  zync: { DATABASE_URL: "postgresql://zync@zync-database:5432/zync_production", DATABASE_PASSWORD: "zpw" },
});

describe("threescale includeDatabases: locateComponents", () => {
  it("finds every component in the documented order, queues on the storage server taken once", () => {
    const r = locateComponents("ns", secrets());
    expect(r.ok).to.equal(true);
    if (!r.ok) return;
    expect(r.components.map((c) => c.name)).to.deep.equal(["system-database", "zync-database", "system-redis", "backend-redis"]);
    expect(r.components[0]!.endpoint).to.include({ engine: "mysql", username: "root", password: "rootpw", database: "system" });
    expect(r.components[1]!.endpoint).to.include({ engine: "postgresql", username: "zync", password: "zpw" });
    expect(r.components[0]!.source).to.equal('Secret "ns/system-database" key URL');
  });
  it("takes backend-redis-queues when REDIS_QUEUES_URL names another server", () => {
    const s = secrets();
    s["backend-redis"].REDIS_QUEUES_URL = "redis://backend-queues:6379/1";
    const r = locateComponents("ns", s);
    expect(r.ok && r.components.map((c) => c.name)).to.deep.equal(["system-database", "zync-database", "system-redis", "backend-redis", "backend-redis-queues"]);
  });
  it("skips the components it is told to, whose Secrets need not exist (a restore locates those the APIManager runs later)", () => {
    const { "system-database": _, ...s } = secrets();
    s["backend-redis"].REDIS_QUEUES_URL = "redis://backend-queues:6379/1";
    const r = locateComponents("ns", s, new Set(["system-database", "backend-redis"] as const));
    expect(r.ok && r.components.map((c) => c.name)).to.deep.equal(["zync-database", "system-redis"]);
  });
  it("uses DB_USER/DB_PASSWORD when the system-database URL has no credentials", () => {
    const s = secrets();
    s["system-database"].URL = "postgresql://system-postgresql/system";
    const r = locateComponents("ns", s);
    expect(r.ok && r.components[0]!.endpoint).to.include({ engine: "postgresql", username: "mysql", password: "mysqlpw" });
  });
  it("leaves zync out when its Secret does not exist or has no DATABASE_URL", () => {
    const { zync: _z, ...rest } = secrets();
    const r = locateComponents("ns", rest);
    expect(r.ok && r.components.map((c) => c.name)).to.deep.equal(["system-database", "system-redis", "backend-redis"]);
    const r2 = locateComponents("ns", { ...rest, zync: { ZYNC_AUTHENTICATION_TOKEN: "t" } });
    expect(r2.ok && r2.components.map((c) => c.name)).to.deep.equal(["system-database", "system-redis", "backend-redis"]);
  });
  const failures: Array<[string, (s: ReturnType<typeof secrets>) => object, string, RegExp]> = [
    ["a missing Secret", (s) => ({ ...s, "system-redis": undefined }), "system-redis", /Secret "ns\/system-redis" not found/],
    ["a missing key", (s) => ({ ...s, "backend-redis": { REDIS_QUEUES_URL: "redis://h" } }), "backend-redis", /key REDIS_STORAGE_URL is missing/],
    ["a bad URL", (s) => ({ ...s, "system-database": { URL: "mysql2://u:p@h/x?ssl=1" } }), "system-database", /query parameters/],
    ["Redis Sentinel", (s) => ({ ...s, "backend-redis": { ...s["backend-redis"], REDIS_STORAGE_SENTINEL_HOSTS: "redis://s1:26379" } }), "backend-redis", /Sentinel is not supported/],
    ["zync on MySQL", (s) => ({ ...s, zync: { DATABASE_URL: "mysql2://u:p@h/zync" } }), "zync-database", /postgresql is expected/],
  ];
  for (const [what, mutate, component, re] of failures) {
    it(`names the component on ${what}`, () => {
      const r = locateComponents("ns", mutate(secrets()) as never);
      expect(r.ok).to.equal(false);
      if (!r.ok) {
        expect(r.component).to.equal(component);
        expect(r.message).to.match(re);
      }
    });
  }
});

describe("threescale includeDatabases: endpoint Secret and tool", () => {
  const base: BackupTool = { apiVersion: "dataprotection.kubeblocks.io/v1alpha1", kind: "BackupTool", metadata: { name: "redis-rdb-online", annotations: { a: "b" } }, spec: { image: "img", deployKind: "job", type: "file", env: [{ name: "DATA_DIR", value: "/data" }], backupCommands: ["sh", "-c", "x"], logical: { restoreCommands: ["load"] }, physical: { restoreCommands: ["files"] } } } as BackupTool;

  it("the endpoint Secret holds host, port and only the credentials the URL had", () => {
    const r = locateComponents("ns", secrets());
    if (!r.ok) throw new Error(r.message);
    const s = endpointSecret("ns", { name: "bk", uid: "u1" }, r.components[2]!);
    expect(s.metadata?.name).to.equal("threescale-system-redis-endpoint");
    expect(s.stringData).to.deep.equal({ host: "system-redis", port: "6379" });
    expect(s.metadata?.ownerReferences).to.deep.equal([{ apiVersion: "apps.3scale.net/v1alpha1", kind: "APIManagerBackup", name: "bk", uid: "u1" }]);
    expect(endpointSecret("ns", { name: "rs", uid: "u2", kind: "APIManagerRestore" }, r.components[2]!).metadata?.ownerReferences?.[0]?.kind).to.equal("APIManagerRestore");
    expect(endpointSecret("ns", { name: "bk", uid: "u1" }, r.components[0]!).stringData).to.deep.equal({ host: "system-mysql", port: "3306", username: "root", password: "rootpw", database: "system" });
  });

  it("the tool is a targetless copy of the built-in one whose DB_* come from the endpoint Secret", () => {
    const t = externalEndpointTool(base, componentToolName("backend-redis", "redis"), endpointSecretName("backend-redis"));
    expect(t.metadata.name).to.equal("threescale-backend-redis-redis-rdb-online");
    expect(t.metadata.annotations).to.deep.equal({ a: "b" });
    expect(t.spec.targetless).to.equal(true);
    expect(t.spec.backupCommands).to.deep.equal(base.spec.backupCommands);
    // An endpoint has no data volume: only the logical restore, over DB_HOST, is kept.
    expect(t.spec.logical).to.deep.equal({ restoreCommands: ["load"] });
    expect(t.spec).not.to.have.property("physical");
    expect(t.spec.env).to.deep.equal([{ name: "DATA_DIR", value: "/data" }, ...endpointEnv("threescale-backend-redis-endpoint")]);
    expect(JSON.stringify(t)).not.to.match(/"value":"(system|backend)-redis"/);
    const names = (t.spec.env ?? []).map((e) => e.name);
    expect(names).to.include.members(["DB_HOST", "DB_PORT", "DB_USER", "DB_PASSWORD", "DB_NAME"]);
  });
});
