import { expect } from "chai";
import { buildLaunchScript, effectiveIds, fstabPath, launchArgv, launchTables, shQuote, type LaunchPlan } from "./launch.ts";

describe("launch plan", () => {
  it("quotes any string for sh", () => {
    expect(shQuote("it's")).to.equal(`'it'\\''s'`);
  });

  it("mounts parents before children in one mount -a, read-only where asked, files after directories, then execs as the uid/gid", () => {
    const plan: LaunchPlan = {
      mounts: [
        { source: "/h/sa", target: "/var/run/secrets/kubernetes.io/serviceaccount", readOnly: true, isDir: true },
        { source: "/h/data", target: "/data", readOnly: false, isDir: true },
        { source: "/h/term", target: "/dev/termination-log", readOnly: false, isDir: false },
      ],
      command: ["sleep", "1"], workingDir: "/data/work", uid: 1000, gid: 0, tablesDir: "/c",
    };
    const script = buildLaunchScript(plan);
    const tables = Object.fromEntries(launchTables(plan).map((t) => [t.path, t.content.split("\n")]));
    expect(Object.keys(tables)).to.deep.equal(["/c/dirs.fstab", "/c/files.fstab"]);
    const lines = [...script.split("\n"), ...tables["/c/dirs.fstab"]!, ...tables["/c/files.fstab"]!];
    expect(lines[0]).to.equal("set -e");
    expect(script.split("\n").filter((l) => l.startsWith("mount -a -T"))).to.deep.equal(["mount -a -T '/c/dirs.fstab'", "mount -a -T '/c/files.fstab'"]);
    expect(lines.indexOf("/h/data /data none bind,X-mount.mkdir 0 0")).to.be.greaterThan(0);
    expect(lines.indexOf("/h/data /data none bind,X-mount.mkdir 0 0")).to.be.lessThan(lines.indexOf("/h/sa /var/run/secrets/kubernetes.io/serviceaccount none bind,X-mount.mkdir,ro 0 0"));
    expect(lines).to.include(`[ -e '/dev/termination-log' ] || : > '/dev/termination-log'`);
    const steps = script.split("\n");
    expect(steps.indexOf(`[ -e '/dev/termination-log' ] || : > '/dev/termination-log'`)).to.be.lessThan(steps.indexOf("mount -a -T '/c/files.fstab'"));
    expect(tables["/c/files.fstab"]).to.include("/h/term /dev/termination-log none bind 0 0");
    expect(lines).to.include("cd '/data/work'");
    expect(steps[steps.length - 1]).to.equal('exec setpriv --reuid=1000 --regid=0 --clear-groups -- "$@"');
  });

  it("builds a private root: an overlay of / over the container's layer, /proc /sys /dev and the volumes inside, then a change of root", () => {
    const plan: LaunchPlan = { mounts: [{ source: "/h/data dir", target: "/data", readOnly: false, isDir: true }], command: ["true"], uid: 7, root: "/n/roots/c", tablesDir: "/c" };
    const script = buildLaunchScript(plan);
    const lines = [...script.split("\n"), ...launchTables(plan).flatMap((t) => t.content.split("\n"))];
    expect(script.split("\n").slice(0, 2)).to.deep.equal(["set -e", "mount -a -T '/c/dirs.fstab'"]);
    expect(lines).to.include("dp-root /n/roots/c/root overlay lowerdir=/,upperdir=/n/roots/c/upper,workdir=/n/roots/c/work 0 0");
    for (const h of ["/proc", "/sys", "/dev"]) expect(lines).to.include(`${h} /n/roots/c/root${h} none rbind 0 0`);
    expect(lines).to.include("/h/data\\040dir /n/roots/c/root/data none bind,X-mount.mkdir 0 0");
    expect(script).to.match(/\nexec chroot '\/n\/roots\/c\/root' sh -c '.*setpriv --reuid=7 --clear-groups -- "\$@"' sh "\$@"$/s);
    expect(fstabPath("a b\tc\\d")).to.equal("a\\040b\\011c\\134d");
  });

  it("passes the command as positional parameters to a private mount namespace", () => {
    const { file, args } = launchArgv({ mounts: [], command: ["echo", "a b", "$(X)"] });
    expect(file).to.equal("unshare");
    expect(args.slice(0, 5)).to.deep.equal(["-m", "--propagation", "private", "--", "sh"]);
    expect(args.slice(-4)).to.deep.equal(["sh", "echo", "a b", "$(X)"]);
    expect(args[6]).to.match(/exec "\$@"$/);
  });

  it("prefers the container's securityContext over the pod's", () => {
    expect(effectiveIds({ runAsUser: 1, runAsGroup: 2 }, { runAsUser: 3 })).to.deep.equal({ uid: 3, gid: 2 });
    expect(effectiveIds({ runAsUser: 5 }, undefined)).to.deep.equal({ uid: 5, gid: 0 });
    expect(effectiveIds(undefined, undefined)).to.deep.equal({ uid: undefined, gid: undefined });
    expect(effectiveIds({ runAsUser: 7, fsGroup: 2000, supplementalGroups: [5, 2000] }, undefined)).to.deep.equal({ uid: 7, gid: 0, groups: [2000, 5] });
    expect(buildLaunchScript({ mounts: [], command: ["id"], uid: 7, gid: 0, groups: [2000, 5] })).to.match(/--groups=2000,5 -- "\$@"$/);
  });
});
