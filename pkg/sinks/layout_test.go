package sinks

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/eventide/eventide/internal/testenv"
	"gopkg.in/yaml.v3"
)

func parseLayoutYAML(t testing.TB, src string) (*Layout, error) {
	t.Helper()
	var n yaml.Node
	if err := yaml.Unmarshal([]byte(src), &n); err != nil {
		t.Fatal(err)
	}
	return ParseLayout("layout", &n)
}

func render(t *testing.T, src string) string {
	t.Helper()
	l, err := parseLayoutYAML(t, src)
	if err != nil {
		t.Fatal(err)
	}
	b, err := l.Render(testenv.SampleEvent())
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestLayoutGoldenKinesisMetric(t *testing.T) {
	got := render(t, `
metric: kube_event
value: !int '{{ .GetCount }}'
timestamp: !int '{{ .GetTimestampMs }}'
iso: '{{ .GetTimestampISO8601 }}'
dimensions:
  cluster: '{{ .ClusterName }}'
  namespace: '{{ .Namespace }}'
  kind: '{{ .InvolvedObject.Kind }}'
  reason: '{{ .Reason }}'
  owner: '{{ .InvolvedObject.Labels.owner }}'
  missing: '{{ .InvolvedObject.Labels.nope }}'
  workload: '{{ with .InvolvedObject.Workload }}{{ .Kind }}/{{ .Name }}{{ end }}'
labels: !json '{{ toJson .InvolvedObject.Labels }}'
message: '{{ .Message }}'
ratio: !float '{{ div 1 4 }}.5'
warning: !bool '{{ eq .Type "Warning" }}'
static: {n: 5, f: 1.5, yes: true, none: null, s: "text", list: [1, "{{ .Reason }}"]}
`)
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, []byte(got), "", "  "); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, got)
	}
	testenv.CheckGolden(t, "kinesis-metric.golden.json", pretty.Bytes())
}

func TestLayoutRuntimeErrorsNameTheLeaf(t *testing.T) {
	for src, want := range map[string]string{
		`a: {b: !int "{{ .Reason }}"}`:            `layout.a.b: !int: "BackOff" is not an integer`,
		`x: !json "{{ .Reason }}"`:                `layout.x: !json: output is not JSON`,
		`x: "{{ .NoSuchField }}"`:                 `layout.x: template:`,
		`x: !bool "maybe"`:                        `layout.x: !bool: "maybe" is not a boolean`,
		`x: "{{ index .InvolvedObject.Labels }}"`: ``,
	} {
		l, err := parseLayoutYAML(t, src)
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		_, err = l.Render(testenv.SampleEvent())
		if want == "" {
			if err != nil {
				t.Errorf("%s: %v", src, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want %q", src, err, want)
		}
		if err != nil && !IsTemplateError(err) {
			t.Errorf("%s: %v is not a TemplateError (would be retried)", src, err)
		}
	}
}

func TestTemplateFunctions(t *testing.T) {
	for text, want := range map[string]string{
		`{{ .Reason | lower }}`:                       "backoff",
		`{{ toJson .InvolvedObject.Labels }}`:         `{"app.kubernetes.io/name":"web","owner":"payments"}`,
		`{{ .InvolvedObject.Labels.none }}`:           "",
		`{{ .GetTimestampISO8601 }}`:                  "2026-11-21T10:00:00.000Z",
		`{{ date "2006-01-02" .LastTimestamp.Time }}`: "2026-11-21",
		`{{ .InvolvedObject.Workload.Name }}`:         "web",
	} {
		tm, err := ParseTemplate(text)
		if err != nil {
			t.Fatalf("%s: %v", text, err)
		}
		got, err := tm.Render(testenv.SampleEvent())
		if err != nil || got != want {
			t.Errorf("%s = %q, %v; want %q", text, got, err, want)
		}
	}
	for _, banned := range []string{"env", "expandenv", "getHostByName"} {
		if _, err := ParseTemplate(`{{ ` + banned + ` "HOME" }}`); err == nil {
			t.Errorf("%s is available to templates", banned)
		}
	}
}

func TestDeDotPayload(t *testing.T) {
	p := Payload{deDot: true}
	b, err := p.Render(testenv.SampleEvent())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"app_kubernetes_io/name":"web"`) || strings.Contains(string(b), `"app.kubernetes.io/name"`) {
		t.Errorf("labels not de-dotted: %s", b)
	}
}

func BenchmarkLayoutRender(b *testing.B) {
	l, err := parseLayoutYAML(b, `
metric: kube_event
value: !int '{{ .GetCount }}'
timestamp: !int '{{ .GetTimestampMs }}'
dimensions:
  cluster: '{{ .ClusterName }}'
  namespace: '{{ .Namespace }}'
  kind: '{{ .InvolvedObject.Kind }}'
  reason: '{{ .Reason }}'
  type: '{{ .Type }}'
  owner: '{{ .InvolvedObject.Labels.owner }}'
  workload: '{{ with .InvolvedObject.Workload }}{{ .Name }}{{ end }}'
`)
	if err != nil {
		b.Fatal(err)
	}
	ev := testenv.SampleEvent()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := l.Render(ev); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkWholeEventJSON(b *testing.B) {
	ev := testenv.SampleEvent()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ev.ToJSON(); err != nil {
			b.Fatal(err)
		}
	}
}

func FuzzParseAndRenderTemplate(f *testing.F) {
	for _, s := range []string{"{{ .Reason }}", "{{ toJson . }}", "{{", "{{ index .InvolvedObject.Labels \"owner\" }}", "x{{ .Count | add 1 }}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		if strings.Contains(text, "repeat") || strings.Contains(text, "until") || strings.Contains(text, "seq") {
			t.Skip("sprig can allocate without bound on purpose")
		}
		tm, err := ParseTemplate(text)
		if err != nil {
			return
		}
		_, _ = tm.Render(testenv.SampleEvent())
	})
}

// checkGolden compares got with testdata/name (rewritten with -update).

// Typed leaves: the rendered text is trimmed, then must be what the tag
// says; a value that is not is a template error naming the leaf, never a
// payload that is not JSON.
func TestLayoutTypedValues(t *testing.T) {
	for _, tc := range []struct {
		leaf, want, wantErr string
	}{
		{"!int ' {{ .Count }} '", `{"v":3}`, ""},
		{"!int '1.5'", "", "!int: \"1.5\" is not an integer"},
		{"!int 'NaN'", "", "!int: \"NaN\" is not an integer"},
		{"!int '-42'", `{"v":-42}`, ""},
		{"!int '007'", `{"v":7}`, ""},
		{"!int '+5'", `{"v":5}`, ""},
		{"!int '-'", "", "!int: \"-\" is not an integer"},
		{"!int '9223372036854775807'", `{"v":9223372036854775807}`, ""},
		{"!int '9223372036854775808'", "", "!int: \"9223372036854775808\" is not an integer"},
		{"!float ' 2.50 '", `{"v":2.5}`, ""},
		{"!float 'NaN'", "", "!float: \"NaN\" is not a number"},
		{"!float '+Inf'", "", "!float: \"+Inf\" is not a number"},
		{"!bool \"\n true \"", `{"v":true}`, ""},
		{"!bool 'yes'", "", "!bool: \"yes\" is not a boolean"},
		{"!bool 'T'", `{"v":true}`, ""},
		{"!bool 'false'", `{"v":false}`, ""},
		{"!json '{{ if false }}x{{ end }}'", `{"v":null}`, ""},
		{"!json ' {\"a\": [1]} '", `{"v":{"a": [1]}}`, ""},
		{"!json '{'", "", "!json: output is not JSON"},
	} {
		l, err := parseLayoutYAML(t, "v: "+tc.leaf)
		if err != nil {
			t.Fatalf("%s: %v", tc.leaf, err)
		}
		b, err := l.Render(testenv.SampleEvent())
		switch {
		case tc.wantErr == "" && (err != nil || string(b) != tc.want):
			t.Errorf("%s: %s %v, want %s", tc.leaf, b, err, tc.want)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), "layout.v: "+tc.wantErr) || !IsTemplateError(err)):
			t.Errorf("%s: %s %v, want a template error %q", tc.leaf, b, err, tc.wantErr)
		}
	}
}

func TestParseRetryAfterBounds(t *testing.T) {
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Duration{
		"7":                             7 * time.Second,
		"999999999":                     RetryAfterCeiling, // 31 years
		"99999999999999999999999999":    RetryAfterCeiling, // not an int64
		"-5":                            0,
		"Sun, 29 Nov 2026 12:00:30 GMT": 30 * time.Second,
		"Fri, 29 Nov 2126 12:00:00 GMT": RetryAfterCeiling,
		"soon":                          0,
	} {
		if got := ParseRetryAfter(in, now); got != want {
			t.Errorf("%q: %v, want %v", in, got, want)
		}
	}
}

func TestTemplateRecursionRefused(t *testing.T) {
	for _, text := range []string{
		`{{ define "a" }}{{ template "a" . }}{{ end }}{{ template "a" . }}`,
		`{{ define "a" }}{{ if .Name }}{{ template "b" . }}{{ end }}{{ end }}{{ define "b" }}{{ range .Labels }}{{ template "a" $ }}{{ end }}{{ end }}x`,
	} {
		if _, err := ParseTemplate(text); err == nil || !strings.Contains(err.Error(), "calls itself") {
			t.Errorf("%s: %v", text, err)
		}
	}
	if _, err := ParseTemplate(`{{ define "a" }}A{{ end }}{{ define "b" }}{{ template "a" . }}{{ template "a" . }}{{ end }}{{ template "b" . }}`); err != nil {
		t.Errorf("a template used twice is not recursion: %v", err)
	}
}
