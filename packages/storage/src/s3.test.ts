import { expect } from "chai";
import nock from "nock";
import { Readable } from "node:stream";
import { RepoError } from "./errors.ts";
import { S3Backend } from "./s3.ts";

const endpoint = "http://s3.test:9000";
const MiB = 1024 * 1024;

function backend(extra: Partial<ConstructorParameters<typeof S3Backend>[0]> = {}): S3Backend {
  return new S3Backend({
    bucket: "bkt",
    endpoint,
    region: "us-east-1",
    forcePathStyle: true,
    accessKeyId: "AK",
    secretAccessKey: "SK",
    maxAttempts: 3,
    ...extra,
  });
}

const NO_UPLOADS = "<ListMultipartUploadsResult><Bucket>bkt</Bucket></ListMultipartUploadsResult>";
/** The list of earlier writers' multipart uploads every put starts with: none. */
function noLeftUploads(host = endpoint, path = "/bkt/"): void {
  nock(host).get(path).query((q) => "uploads" in q).reply(200, NO_UPLOADS);
}

async function rejection(p: Promise<unknown>): Promise<RepoError> {
  try {
    await p;
  } catch (err) {
    expect(err).to.be.instanceOf(RepoError);
    return err as RepoError;
  }
  throw new Error("expected a rejection");
}

describe("S3Backend error paths (nock)", () => {
  before(() => nock.disableNetConnect());
  afterEach(() => nock.cleanAll());
  after(() => nock.enableNetConnect());

  it("reports a 403 on PUT as access denied, naming the object and the fix", async () => {
    noLeftUploads();
    nock(endpoint)
      .put("/bkt/ns/b/dump.sql").query(true)
      .reply(403, "<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>");
    const err = await rejection(backend().put("ns/b/dump.sql", Buffer.from("x")));
    expect(err.code).to.equal("AccessDenied");
    expect(err.message).to.contain("s3://bkt/ns/b/dump.sql").and.contain("credentials");
  });

  it("retries a 500 and then succeeds", async () => {
    const scope = nock(endpoint)
      .get("/bkt/k").query(true)
      .reply(500, "<Error><Code>InternalError</Code><Message>boom</Message></Error>")
      .get("/bkt/k").query(true)
      .reply(200, "hello", { "Content-Length": "5" });
    const body = await backend().get("k");
    const parts: Buffer[] = [];
    for await (const c of body) parts.push(c as Buffer);
    expect(Buffer.concat(parts).toString()).to.equal("hello");
    expect(scope.isDone()).to.equal(true);
  });

  it("gives up after maxAttempts 5xx responses with the status in the message", async () => {
    nock(endpoint).get("/bkt/k").query(true).times(3).reply(503, "<Error><Code>SlowDown</Code><Message>slow</Message></Error>");
    const err = await rejection(backend().get("k"));
    expect(err.code).to.equal("Failed");
    expect(err.message).to.contain("s3://bkt/k").and.contain("503");
  });

  it("maps a missing key to NotFound and stat() to undefined", async () => {
    nock(endpoint).get("/bkt/nope").query(true).reply(404, "<Error><Code>NoSuchKey</Code><Message>no</Message></Error>");
    nock(endpoint).head("/bkt/nope").query(true).reply(404);
    expect((await rejection(backend().get("nope"))).code).to.equal("NotFound");
    expect(await backend().stat("nope")).to.equal(undefined);
  });

  it("aborts the multipart upload when a part fails, leaving no parts behind", async () => {
    let aborted = false;
    noLeftUploads();
    nock(endpoint)
      .post("/bkt/big")
      .query({ uploads: "" })
      .reply(200, "<InitiateMultipartUploadResult><Bucket>bkt</Bucket><Key>big</Key><UploadId>U1</UploadId></InitiateMultipartUploadResult>")
      .put("/bkt/big")
      .query(true)
      .times(8)
      .reply(500, "<Error><Code>InternalError</Code><Message>disk</Message></Error>")
      .delete("/bkt/big")
      .query((q) => q.uploadId === "U1")
      .reply(204, () => {
        aborted = true;
        return "";
      });
    const body = Readable.from([Buffer.alloc(6 * MiB, 1), Buffer.alloc(6 * MiB, 2)]);
    const err = await rejection(backend({ partSize: 5 * MiB, queueSize: 1, maxAttempts: 1 }).put("big", body));
    expect(err.message, err.message).to.contain("s3://bkt/big");
    expect(aborted, "AbortMultipartUpload sent").to.equal(true);
  });

  it("addresses the bucket as a virtual host unless path style is forced", async () => {
    noLeftUploads("http://bkt.s3.test:9000", "/");
    const scope = nock("http://bkt.s3.test:9000").put("/k").query(true).reply(200, "");
    await backend({ forcePathStyle: false }).put("k", Buffer.from("v"));
    expect(scope.isDone()).to.equal(true);
  });

  it("aborts the multipart uploads of the key an earlier writer left before it writes, and only that key's", async () => {
    const aborted: string[] = [];
    nock(endpoint)
      .get("/bkt/").query((q) => "uploads" in q && q.prefix === "ns/b/dump.sql")
      .reply(200, "<ListMultipartUploadsResult><Bucket>bkt</Bucket><Upload><Key>ns/b/dump.sql</Key><UploadId>OLD1</UploadId></Upload><Upload><Key>ns/b/dump.sql.2</Key><UploadId>OTHER</UploadId></Upload></ListMultipartUploadsResult>")
      .delete("/bkt/ns/b/dump.sql").query((q) => typeof q.uploadId === "string")
      .reply(204, (uri) => {
        aborted.push(new URL(uri, endpoint).searchParams.get("uploadId") ?? "");
        return "";
      })
      .put("/bkt/ns/b/dump.sql").query(true).reply(200, "");
    await backend().put("ns/b/dump.sql", Buffer.from("x"));
    expect(aborted).to.deep.equal(["OLD1"]);
  });

  it("still writes when the bucket policy refuses listing multipart uploads (the clean-up is best effort)", async () => {
    nock(endpoint).get("/bkt/").query((q) => "uploads" in q).reply(403, "<Error><Code>AccessDenied</Code><Message>no</Message></Error>");
    const scope = nock(endpoint).put("/bkt/k").query(true).reply(200, "");
    await backend().put("k", Buffer.from("v"));
    expect(scope.isDone()).to.equal(true);
  });

  it("reports an unreachable endpoint as such", async () => {
    nock.enableNetConnect("127.0.0.1");
    const b = new S3Backend({ bucket: "bkt", endpoint: "http://127.0.0.1:1", forcePathStyle: true, accessKeyId: "a", secretAccessKey: "b", maxAttempts: 1 });
    const err = await rejection(b.probe());
    expect(err.code).to.equal("Unreachable");
    expect(err.message).to.contain("http://127.0.0.1:1");
  });
});
