import { expect } from "chai";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync, chmodSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Argument, Command, Option } from "commander";
import { bashCompletion, completionSpec, shellWord, zshCompletion } from "./completion.ts";
import { runCli } from "./main.ts";

/** The script kubectl-dp prints for this shell. */
async function script(shell: "bash" | "zsh"): Promise<string> {
  const out: string[] = [];
  const code = await runCli(["completion", shell], { out: (l) => out.push(l), err: (l) => out.push(`ERR ${l}`) });
  expect(code).to.equal(0);
  return out.join("\n") + "\n";
}

describe("kubectl-dp completion: the spec", () => {
  it("reads commands, flags, value flags and choices off the commander program; hints name what values complete to", () => {
    const p = new Command("tool").option("--kubeconfig <file>").option("-v, --verbose");
    p.command("get").addArgument(new Argument("[what]").choices(["a", "b"])).addOption(new Option("-o, --output <f>").choices(["json", "yaml"])).option("--parent <x>").option("--name <n>");
    p.command("secret").addOption(new Option("--hidden-flag").hideHelp());
    p.command("hidden", { hidden: true });
    const spec = completionSpec(p, { options: { "--kubeconfig": "files", "--parent": { resource: "things.example.com" } }, forKubectl: ["--kubeconfig"], args: { secret: [{ values: "none" }] } });
    expect(spec).to.deep.equal({
      program: "tool",
      globalOptions: [{ flags: ["--kubeconfig"], values: "files", forKubectl: true }, { flags: ["-v", "--verbose"] }, { flags: ["-h", "--help"] }],
      commands: [
        {
          name: "get",
          options: [{ flags: ["-o", "--output"], values: { choices: ["json", "yaml"] } }, { flags: ["--parent"], values: { resource: "things.example.com" } }, { flags: ["--name"], values: "none" }, { flags: ["-h", "--help"] }],
          args: [{ values: { choices: ["a", "b"] } }],
        },
        { name: "secret", options: [{ flags: ["-h", "--help"] }], args: [{ values: "none" }] },
      ],
    });
  });

  it("quotes only what a shell would split", () => {
    expect(shellWord("backups.dataprotection.kubeblocks.io")).to.equal("backups.dataprotection.kubeblocks.io");
    expect(shellWord("a b")).to.equal("'a b'");
    expect(shellWord("it's")).to.equal("'it'\\''s'");
  });
});

describe("kubectl-dp completion: the scripts", () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "dp-completion-"));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  /** Completes `words` (the last one being typed) in bash, names answered by a stub instead of kubectl. */
  function complete(bash: string, ...words: string[]): string[] {
    const file = join(dir, "dp.bash");
    writeFileSync(file, bash);
    const run = [
      `source ${file}`,
      // The stub shows what kubectl would be asked (the flags passed on), then two names.
      '__kubectl_dp_names() { echo "ASKED:$*"; echo one; echo two; }',
      `COMP_WORDS=(${words.map((w) => shellWord(w) || "''").join(" ")}); COMP_CWORD=${words.length - 1}`,
      "_kubectl_dp",
      'printf "%s\\n" "${COMPREPLY[@]}"',
    ].join("\n");
    const r = spawnSync("bash", ["--norc", "--noprofile", "-c", run], { encoding: "utf8", cwd: dir });
    expect(r.status, r.stderr).to.equal(0);
    return r.stdout.split("\n").filter(Boolean);
  }

  it("bash: commands, flags of the command being typed, fixed choices, names from kubectl with the -n/--kubeconfig typed", async () => {
    const bash = await script("bash");
    expect(spawnSync("bash", ["-n"], { input: bash }).status).to.equal(0);
    expect(complete(bash, "kubectl-dp", "")).to.deep.equal(["backup", "import", "restore", "list", "status", "describe", "completion"]);
    expect(complete(bash, "kubectl-dp", "de")).to.deep.equal(["describe"]);
    expect(complete(bash, "kubectl-dp", "backup", "pg", "--w")).to.deep.equal(["--wait"]);
    expect(complete(bash, "kubectl-dp", "list", "--")).to.include.members(["--all-namespaces", "--output", "--namespace", "--kubeconfig"]);
    expect(complete(bash, "kubectl-dp", "backup", "pg", "--type", "")).to.deep.equal(["datafile", "logfile", "snapshot"]);
    expect(complete(bash, "kubectl-dp", "status", "-o", "")).to.deep.equal(["table", "json", "yaml"]);
    expect(complete(bash, "kubectl-dp", "list", "")).to.deep.equal(["backups", "restores", "policies"]);
    expect(complete(bash, "kubectl-dp", "completion", "")).to.deep.equal(["bash", "zsh"]);
    expect(complete(bash, "kubectl-dp", "describe", "")).to.deep.equal(["backup", "policy", "restore"]);
    expect(complete(bash, "kubectl-dp", "--kubeconfig", "/k", "-n", "db", "describe", "policy", "")).to.deep.equal(["ASKED:backuppolicies.dataprotection.kubeblocks.io --kubeconfig /k -n db", "one", "two"]);
    expect(complete(bash, "kubectl-dp", "describe", "backups", "o")).to.deep.equal(["one"]);
    expect(complete(bash, "kubectl-dp", "-n", "db", "restore", "")).to.deep.equal(["ASKED:backups.dataprotection.kubeblocks.io -n db", "one", "two"]);
    expect(complete(bash, "kubectl-dp", "backup", "--name", "x", "")).to.deep.equal(["ASKED:backuppolicies.dataprotection.kubeblocks.io", "one", "two"]);
    expect(complete(bash, "kubectl-dp", "backup", "pg", "--parent", "")).to.deep.equal(["ASKED:backups.dataprotection.kubeblocks.io", "one", "two"]);
    expect(complete(bash, "kubectl-dp", "--namespace", "")).to.deep.equal(["ASKED:namespaces", "one", "two"]);
    // Free values and arguments past the last one: nothing.
    expect(complete(bash, "kubectl-dp", "restore", "b1", "--timeout", "")).to.deep.equal([]);
    expect(complete(bash, "kubectl-dp", "describe", "backup", "b1", "")).to.deep.equal([]);
    // --kubeconfig completes files.
    writeFileSync(join(dir, "kubeconfig.yaml"), "");
    expect(complete(bash, "kubectl-dp", "--kubeconfig", "kube")).to.deep.equal(["kubeconfig.yaml"]);
  });

  it("bash, run as kubectl_complete-dp: kubectl's words in, candidates for the last one and cobra's directive out", async () => {
    const file = join(dir, "kubectl_complete-dp");
    writeFileSync(file, await script("bash"));
    chmodSync(file, 0o755);
    const run = (...args: string[]) => spawnSync(file, args, { encoding: "utf8", env: { ...process.env, PATH: `${dir}:/usr/bin:/bin` } }).stdout.split("\n").filter(Boolean);
    expect(run("li")).to.deep.equal(["list", ":4"]);
    expect(run("list", "")).to.deep.equal(["backups", "restores", "policies", ":4"]);
    expect(run("list", "-o", "j")).to.deep.equal(["json", ":4"]);
    expect(run("--kubeconfig", "")).to.deep.equal([":0"]);
  });

  it("zsh: the same candidates function, wrapped for compadd/_files and compdef (loaded from $fpath or sourced)", async () => {
    const bash = await script("bash");
    const zsh = await script("zsh");
    const fn = (s: string): string => s.slice(s.indexOf("__kubectl_dp_names() {"), s.indexOf("\n}\n", s.indexOf("__kubectl_dp_candidates() {")) + 2);
    expect(fn(zsh)).to.equal(fn(bash));
    expect(zsh.split("\n")[0]).to.equal("#compdef kubectl-dp");
    expect(zsh).to.contain("compdef _kubectl_dp kubectl-dp");
    expect(zsh).to.contain('"${(@)words[1,CURRENT]}"');
    expect(zsh).to.contain('if [ "$funcstack[1]" = "_kubectl-dp" ]; then');
  });

  it("a program with no value flags still makes a valid script", () => {
    const spec = completionSpec(new Command("x").addCommand(new Command("go")));
    expect(spawnSync("bash", ["-n"], { input: bashCompletion(spec) }).status).to.equal(0);
    expect(zshCompletion(spec)).to.contain("__no_such_flag__");
  });
});
