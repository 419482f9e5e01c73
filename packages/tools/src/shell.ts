// Shell fragments shared by the database tools. Tool scripts run under `sh -c` (dash in
// the db-tools image) and avoid `$(...)` and `$$`: Kubernetes expands `$(VAR)` and turns `$$`
// into `$` in container commands and args, so command substitution uses backquotes.

/**
 * `producer | consumer` that fails when either side fails: dash has no `pipefail`, so a failed
 * producer writes its exit status into a temp file that is checked after the pipeline; `set -e`
 * catches a failed consumer. Keep backquotes out of producer and consumer.
 */
export function checkedPipe(producer: string, consumer: string, what: string): string[] {
  return [
    "st=`mktemp`",
    `{ ${producer} || echo $? > "$st"; } | ${consumer}`,
    `if [ -s "$st" ]; then echo "${what} failed (exit \`cat "$st"\`)" >&2; rm -f "$st"; exit 1; fi`,
    'rm -f "$st"',
  ];
}
