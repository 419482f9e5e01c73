import { expect } from "chai";
import { Writable } from "node:stream";
import { createLogger } from "./logging.ts";

function sink(): { stream: Writable; lines: () => Record<string, unknown>[] } {
  const chunks: string[] = [];
  const stream = new Writable({ write: (c: Buffer, _e, cb) => (chunks.push(c.toString()), cb()) });
  return { stream, lines: () => chunks.join("").split("\n").filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>) };
}

describe("runtime/logging: createLogger", () => {
  it("writes JSON lines with level, message, timestamp and fields, child fields included", () => {
    const s = sink();
    const log = createLogger({ level: "info", stream: s.stream }).child({ controller: "backup" });
    log.info("created", { backup: "b1" });
    const [line] = s.lines();
    expect(line).to.include({ level: "info", message: "created", backup: "b1", controller: "backup" });
    expect(line!.timestamp).to.be.a("string");
  });

  it("does not format an entry below its level (no JSON of its fields), and formats it once the level allows it", () => {
    const s = sink();
    let formatted = 0;
    const field = { toJSON: () => (formatted++, "x") };
    const logger = createLogger({ level: "error", stream: s.stream });
    let writes = 0;
    const write = logger.write.bind(logger);
    logger.write = (info) => (writes++, write(info));
    const child = logger.child({ controller: "backuppolicy" });
    for (let i = 0; i < 100; i++) child.info("created scheduled backup", { field });
    child.debug("detail", { field });
    expect(formatted).to.equal(0);
    expect(writes, "below the level nothing reaches winston's stream").to.equal(0);
    expect(s.lines()).to.deep.equal([]);
    child.error("failed", { field });
    expect(formatted).to.equal(1);
    logger.level = "info";
    child.info("now shown", { field });
    expect(formatted).to.equal(2);
    expect(s.lines().map((l) => l.message)).to.deep.equal(["failed", "now shown"]);
    expect(writes).to.equal(2);
    expect(logger.child({ a: 1 }).child({ b: 2 }).info("grandchild"), "a level method returns its logger").to.be.an("object");
  });
});
