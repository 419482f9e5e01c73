import { expect } from "chai";
import { mkdtemp, mkdir, rm, symlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { resolveInRoot } from "./container.ts";

describe("resolveInRoot", () => {
  it("resolves symlinks among a mount target's existing leading components, keeps the missing rest", async () => {
    const dir = await mkdtemp(join(tmpdir(), "rir-"));
    try {
      await mkdir(join(dir, "real", "sub"), { recursive: true });
      await symlink(join(dir, "real"), join(dir, "link"));
      expect(await resolveInRoot(join(dir, "link", "sub", "missing", "x"))).to.equal(join(dir, "real", "sub", "missing", "x"));
      expect(await resolveInRoot(join(dir, "real"))).to.equal(join(dir, "real"));
      expect(await resolveInRoot("/")).to.equal("/");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
