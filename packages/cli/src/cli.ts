// Entry point of kubectl-dp (bin/kubectl-dp).
import { runCli } from "./main.ts";

process.exitCode = await runCli(process.argv.slice(2), {
  out: (line) => process.stdout.write(line + "\n"),
  err: (line) => process.stderr.write(line + "\n"),
  tty: process.stdout.isTTY === true,
  write: (text) => process.stdout.write(text),
  columns: process.stdout.columns,
});
