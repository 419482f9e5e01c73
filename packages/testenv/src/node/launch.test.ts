import { expect } from "chai";
import { buildLaunchScript, effectiveIds, launchArgv, shQuote } from "./launch.ts";

describe("launch plan", () => {
  it("quotes any string for sh", () => {
    expect(shQuote("it's")).to.equal(`'it'\\''s'`);
  });

  it("mounts parents before children, read-only where asked, then execs as the uid/gid", () => {
    const script = buildLaunchScript({
      mounts: [
        { source: "/h/sa", target: "/var/run/secrets/kubernetes.io/serviceaccount", readOnly: true, isDir: true },
        { source: "/h/data", target: "/data", readOnly: false, isDir: true },
        { source: "/h/term", target: "/dev/termination-log", readOnly: false, isDir: false },
      ],
      command: ["sleep", "1"], workingDir: "/data/work", uid: 1000, gid: 0,
    });
    const lines = script.split("\n");
    expect(lines[0]).to.equal("set -e");
    expect(lines.indexOf("mount --bind '/h/data' '/data'")).to.be.lessThan(lines.indexOf("mount --bind '/h/sa' '/var/run/secrets/kubernetes.io/serviceaccount'"));
    expect(lines).to.include("mount -o remount,bind,ro '/var/run/secrets/kubernetes.io/serviceaccount'");
    expect(lines).to.not.include("mount -o remount,bind,ro '/data'");
    expect(lines).to.include(`[ -e '/dev/termination-log' ] || : > '/dev/termination-log'`);
    expect(lines).to.include("cd '/data/work'");
    expect(lines[lines.length - 1]).to.equal('exec setpriv --reuid=1000 --regid=0 --clear-groups -- "$@"');
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
