import { expect } from "chai";
import { checkTemplate, renderTemplate, TemplateError, type TemplateValues } from "./template.ts";

const values: TemplateValues = {
  Parameters: { bucket: "bkt", region: "", endpoint: "http://s3:9000", "access-key": "AK" },
  GeneratedStorageClassName: "dp-repo-r1",
  CSIDriverSecretRef: { Name: "dp-repo-r1-csi", Namespace: "kb-system" },
};

describe("provider templates", () => {
  const rows: Array<[string, string, string]> = [
    ["field", "bucket: {{ .Parameters.bucket }}", "bucket: bkt"],
    ["index", `{{ index .Parameters "access-key" }}`, "AK"],
    ["quote pipe", "{{ .Parameters.bucket | quote }}", '"bkt"'],
    ["default on empty", `{{ .Parameters.region | default "us-east-1" }}`, "us-east-1"],
    ["default on missing", `{{ .Parameters.nope | default "x" }}`, "x"],
    ["b64enc", "{{ .Parameters.bucket | b64enc }}", "Ymt0"],
    ["generated names", "{{ .GeneratedStorageClassName }} {{ .CSIDriverSecretRef.Name }}/{{ .CSIDriverSecretRef.Namespace }}", "dp-repo-r1 dp-repo-r1-csi/kb-system"],
    ["if/else", "{{ if .Parameters.region }}r{{ else if .Parameters.bucket }}b{{ else }}n{{ end }}", "b"],
    ["trim markers", "a  {{- if true -}}  b  {{- end }}", "ab"],
    ["variables (KubeBlocks oss)", `{{- $e := index .Parameters "endpoint" }}{{- if not $e }}{{- $e = (printf "https://oss-%s.aliyuncs.com" .Parameters.region) }}{{- end }}endpoint: {{ $e }}`, "endpoint: http://s3:9000"],
    ["printf %q", `{{ printf "%s=%q" "k" .Parameters.bucket }}`, 'k="bkt"'],
    ["comment", "x{{/* note */}}y", "xy"],
    ["eq", `{{ if eq .Parameters.bucket "bkt" }}yes{{ end }}`, "yes"],
  ];
  for (const [what, src, want] of rows) it(`renders ${what}`, () => expect(renderTemplate("t", src, values)).to.equal(want));

  const bad: Array<[string, string, RegExp]> = [
    ["unknown function", "a\n  {{ toYaml .Parameters }}", /template t line 2 column 3: function "toYaml" is not supported/],
    ["range", "{{ range .Parameters }}{{ end }}", /"range" is not supported/],
    ["unclosed action", "{{ .Parameters.bucket ", /line 1 column 1: unclosed action/],
    ["missing end", "{{ if .Parameters.bucket }}x", /if without \{\{ end \}\}/],
    ["stray end", "{{ end }}", /unexpected \{\{end\}\}/],
    ["undeclared assignment", "{{ $x = 1 }}", /assigned before it is declared/],
  ];
  for (const [what, src, re] of bad) {
    it(`rejects ${what} with the template name and position`, () => {
      expect(() => renderTemplate("t", src, values)).to.throw(TemplateError, re);
    });
  }

  it("checkTemplate finds unsupported functions without rendering", () => {
    expect(() => checkTemplate("t", "{{ if false }}{{ sha256sum .x }}{{ end }}")).to.throw(TemplateError, /sha256sum/);
  });
});
