package config

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eventide/eventide/internal/testenv/testevent"

	"github.com/rs/zerolog"

	"github.com/eventide/eventide/internal/testenv"
	kevent "github.com/eventide/eventide/pkg/kube/event"
	"github.com/eventide/eventide/pkg/sinks"
	"github.com/eventide/eventide/pkg/sinks/slack"
	"github.com/eventide/eventide/pkg/sinks/webhook"
)

// eachTestdata runs f, as a subtest named after the file, on every file
// matching pattern; none is a failure.
func eachTestdata(t *testing.T, pattern string, f func(t *testing.T, file string, b []byte)) {
	t.Helper()
	files, _ := filepath.Glob(pattern)
	if len(files) == 0 {
		t.Fatalf("no testdata matches %s", pattern)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			b, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			f(t, file, b)
		})
	}
}

// expectations are a testdata file's "# want:" and "# never:" lines.
func expectations(b []byte) (wants, nevers []string) {
	for _, line := range strings.Split(string(b), "\n") {
		if w, ok := strings.CutPrefix(line, "# want: "); ok {
			wants = append(wants, w)
		}
		if n, ok := strings.CutPrefix(line, "# never: "); ok {
			nevers = append(nevers, n)
		}
	}
	return wants, nevers
}

func testLoadOptions(env map[string]string) LoadOptions {
	return LoadOptions{
		Deps: sinks.Deps{Ctx: context.Background(), Log: zerolog.Nop()},
		LookupEnv: func(k string) (string, bool) {
			v, ok := env[k]
			return v, ok
		},
	}
}

// Each file under testdata/invalid holds one kind of mistake and, in its
// "# want:" lines, the messages the load must report ("# never:" lines:
// what it must not print, such as a secret).
func TestLoadRejectsInvalidConfigs(t *testing.T) {
	eachTestdata(t, "testdata/invalid/*.yaml", func(t *testing.T, _ string, b []byte) {
		wants, nevers := expectations(b)
		if len(wants) == 0 {
			t.Fatal("test file has no # want: line")
		}
		_, err := Load(b, testLoadOptions(nil))
		var ce *ConfigError
		if !errors.As(err, &ce) {
			t.Fatalf("want a *ConfigError, got %v", err)
		}
		msg := err.Error()
		for _, w := range wants {
			if !strings.Contains(msg, w) {
				t.Errorf("error does not say %q:\n%s", w, msg)
			}
		}
		for _, n := range nevers {
			if strings.Contains(msg, n) {
				t.Errorf("error says %q, which it must not:\n%s", n, msg)
			}
		}
		for _, e := range ce.Errs {
			if strings.Contains(e.Error(), "undefined receiver") && !strings.Contains(strings.Join(wants, "\n"), "undefined receiver") {
				t.Errorf("spurious follow-on error: %v", e)
			}
		}
	})
}

func TestLoadValidConfigs(t *testing.T) {
	env := map[string]string{"WEBHOOK_KEY": "k", "SLACK_TOKEN": "xoxb-1", "OPSGENIE_API_KEY": "og"}
	files, _ := filepath.Glob("testdata/valid/*.yaml")
	files = append(files, filepath.Join(testenv.RepoRoot(), "config.example.yaml"), filepath.Join(testenv.RepoRoot(), "internal/cmd/demo/demo.yaml"))
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			b, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			l, err := Load(b, testLoadOptions(env))
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			if len(l.Receivers) == 0 || len(l.Tree.Routes()) == 0 {
				t.Fatalf("nothing loaded: %+v", l)
			}
		})
	}
}

func TestLoadOldFileKeepsValues(t *testing.T) {
	b, err := os.ReadFile("testdata/valid/old-exporter.yaml")
	if err != nil {
		t.Fatal(err)
	}
	l, err := Load(b, testLoadOptions(map[string]string{"WEBHOOK_KEY": "k", "SLACK_TOKEN": "xoxb-1"}))
	if err != nil {
		t.Fatal(err)
	}
	c := l.Config
	if c.KubeQPS != 100 || c.KubeBurst != 500 || c.MetricsNamePrefix != "event_exporter_" ||
		c.LeaderElection.LeaderElectionID != "kubernetes-event-exporter" || c.MaxEventAge().Seconds() != 5 {
		t.Errorf("values not kept: %+v", c)
	}
	if got := c.Receivers[2].Settings.(*slack.Config).Token; got.Value() != "xoxb-1" || got.String() != "<redacted>" {
		t.Errorf("secret: value %q, printed %q", got.Value(), got.String())
	}
	if got := c.Receivers[1].Settings.(*webhook.Config).Headers["X-API-KEY"]; got != "k" {
		t.Errorf("${WEBHOOK_KEY} gave %q", got)
	}
}

func TestThrottlePeriodIsDeprecatedAlias(t *testing.T) {
	l, err := Load([]byte("throttlePeriod: 30\nroute: {match: [{receiver: d}]}\nreceivers: [{name: d, stdout: {}}]\n"), testLoadOptions(nil))
	if err != nil {
		t.Fatal(err)
	}
	if l.Config.MaxEventAge().Seconds() != 30 || len(l.Warnings) != 1 || !strings.Contains(l.Warnings[0], "deprecated") {
		t.Errorf("age %v, warnings %v", l.Config.MaxEventAge(), l.Warnings)
	}
}

func TestNamespaceOneOrList(t *testing.T) {
	for in, want := range map[string]string{
		`namespace: payments`:        "payments",
		`namespace: [payments, ops]`: "payments,ops",
		`namespace: ""`:              "",
	} {
		l, err := Load([]byte(in+"\nroute: {match: [{receiver: d}]}\nreceivers: [{name: d, stdout: {}}]\n"), testLoadOptions(nil))
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(l.Config.Namespace, ","); got != want {
			t.Errorf("%s: got %q, want %q", in, got, want)
		}
	}
}

func TestExpandEnv(t *testing.T) {
	env := map[string]string{"TOKEN": "abc", "EMPTY": ""}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	for _, tc := range []struct{ in, want, err string }{
		{in: "Bearer ${TOKEN}", want: "Bearer abc"},
		{in: "${EMPTY}x", want: "x"},
		{in: "$TOKEN stays", want: "$TOKEN stays"},
		{in: "cost: $${TOKEN}", want: "cost: ${TOKEN}"},
		{in: `{{ $x := .Reason }}{{ $x }} ${TOKEN}`, want: `{{ $x := .Reason }}{{ $x }} abc`},
		{in: `{{ printf "${TOKEN}" }}`, want: `{{ printf "${TOKEN}" }}`},
		{in: `{{ range $k, $v := .InvolvedObject.Labels }}{{ $k }}={{ $v }}{{ end }}`, want: `{{ range $k, $v := .InvolvedObject.Labels }}{{ $k }}={{ $v }}{{ end }}`},
		{in: "${MISSING}", err: "environment variable MISSING is not set"},
		{in: "${not a name}", err: "not an environment variable name"},
		{in: "${TOKEN", err: "unterminated"},
	} {
		got, err := expandEnv(tc.in, lookup, func(v string) string { return v })
		switch {
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%q: error %v, want %q", tc.in, err, tc.err)
		case tc.err == "" && (err != nil || got != tc.want):
			t.Errorf("%q: got %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestValidateModeWarnsOnUnsetEnv(t *testing.T) {
	opts := testLoadOptions(nil)
	opts.UnsetEnvIsWarning = true
	l, err := Load([]byte("route: {match: [{receiver: d}]}\nreceivers: [{name: d, webhook: {endpoint: 'http://127.0.0.1:1/', headers: {A: '${SECRET}'}}}]\n"), opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Warnings) != 1 || !strings.Contains(l.Warnings[0], "SECRET is not set") {
		t.Errorf("warnings %v", l.Warnings)
	}
}

func TestSecretFileReference(t *testing.T) {
	path := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(path, []byte("xoxb-from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := Load([]byte("route: {match: [{receiver: s}]}\nreceivers: [{name: s, slack: {token: {file: "+path+"}, channel: '#x'}}]\n"), testLoadOptions(nil))
	if err != nil {
		t.Fatal(err)
	}
	if got := l.Config.Receivers[0].Settings.(*slack.Config).Token.Value(); got != "xoxb-from-file" {
		t.Errorf("token %q", got)
	}
}

// A ${VAR} value is literal text in a template: braces in a secret neither
// break the load nor show in an error, and a field that is not a template
// gets the value as it is.
func TestSubstitutedValuesAreLiteralInTemplates(t *testing.T) {
	secret := `s3cr{{et}}"x`
	src := `route: {match: [{receiver: h}, {receiver: s}]}
receivers:
  - name: h
    webhook:
      endpoint: http://127.0.0.1:1/
      headers: {Authorization: "Bearer ${TOKEN}"}
      layout: {who: "${TOKEN} {{ .Reason }}"}
  - name: s
    slack: {token: "${TOKEN}", channel: "#c-${TOKEN}"}
`
	l, err := Load([]byte(src), testLoadOptions(map[string]string{"TOKEN": secret}))
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	defer l.Close()
	if got := l.Config.Receivers[1].Settings.(*slack.Config).Token.Value(); got != secret {
		t.Errorf("slack token %q: a field that is not a template gets the value as it is", got)
	}
	h := l.Config.Receivers[0].Settings.(*webhook.Config)
	headers, err := sinks.ParseTemplateMap("h", h.Headers)
	if err != nil {
		t.Fatal(err)
	}
	if kv, err := headers.Render(testevent.Pod()); err != nil || kv[0][1] != "Bearer "+secret {
		t.Errorf("header %v %v", kv, err)
	}
	layout, err := sinks.ParseLayout("layout", &h.Layout)
	if err != nil {
		t.Fatal(err)
	}
	if b, err := layout.Render(testevent.Pod()); err != nil || string(b) != `{"who":"s3cr{{et}}\"x BackOff"}` {
		t.Errorf("layout %s %v", b, err)
	}
}

func TestMigrationWarnings(t *testing.T) {
	b, err := os.ReadFile("testdata/valid/old-exporter-quirks.yaml")
	if err != nil {
		t.Fatal(err)
	}
	l, err := Load(b, testLoadOptions(map[string]string{"CLUSTER_NAME": "prod", "x": "set"}))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	all := strings.Join(l.Warnings, "\n")
	for _, want := range []string{
		"receivers[0].file.layout: {} made kubernetes-event-exporter send {} for every event",
		"receivers[1].webhook.streamName has no effect",
		"1 route rule(s) use name:",
		"clusterName: $CLUSTER_NAME is not replaced",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("warnings lack %q:\n%s", want, all)
		}
	}
	if strings.Contains(all, "$x") || strings.Contains(all, "throttlePeriod") {
		t.Errorf("a template variable or throttlePeriod: 0 warned about:\n%s", all)
	}
	if l.Config.MaxEventAge() != time.Minute || l.Config.LogLevel != "fatal" {
		t.Errorf("config %+v", l.Config)
	}
}

// ${VAR} works in integer, boolean and duration keys, as "in any value"
// says: the substituted text is parsed as the key's type. A value that is
// not of that type is an error naming the key and the variable, never the
// value.
func TestEnvInTypedKeys(t *testing.T) {
	const conf = `checkpoint:
  enabled: ${CP}
route:
  match:
    - receiver: d
      minCount: ${MIN}
receivers:
  - name: d
    stdout: {}
    delivery:
      queueSize: ${QS}
      timeout: ${TIMEOUT}
`
	l, err := Load([]byte(conf), testLoadOptions(map[string]string{"CP": "false", "MIN": "3", "QS": "42", "TIMEOUT": "7s"}))
	if err != nil {
		t.Fatal(err)
	}
	if l.Config.Checkpoint.On() || l.Config.Receivers[0].Delivery.QueueSize != 42 || l.Config.Receivers[0].Delivery.Timeout != 7*time.Second ||
		l.Config.Route.Match[0].MinCount != 3 {
		t.Errorf("substituted values not applied: checkpoint %+v, delivery %+v, match %+v", l.Config.Checkpoint, l.Config.Receivers[0].Delivery, l.Config.Route.Match[0])
	}
	_, err = Load([]byte(conf), testLoadOptions(map[string]string{"CP": "false", "MIN": "3", "QS": "s3cr3t-value", "TIMEOUT": "7s"}))
	if err == nil || !strings.Contains(err.Error(), "queueSize from ${QS} (line 11): a string where an integer is expected") || strings.Contains(err.Error(), "s3cr3t") {
		t.Errorf("a non-integer ${QS}: %v; want the key and variable named, not the value", err)
	}
	// A template leaf stays text.
	l, err = Load([]byte("route: {match: [{receiver: d}]}\nreceivers:\n  - name: d\n    stdout:\n      layout:\n        n: ${N}\n"), testLoadOptions(map[string]string{"N": "5"}))
	if err != nil {
		t.Fatal(err)
	}
	p, err := l.Receivers[0].Sink.(sinks.Previewer).Preview(&kevent.EnhancedEvent{})
	if b, _ := json.Marshal(p); err != nil || !strings.Contains(string(b), `"n":"5"`) {
		t.Errorf("a layout leaf from ${N} = %s, %v; want the string \"5\"", b, err)
	}
}

func TestMutingConfigErrors(t *testing.T) {
	_, err := Load([]byte(`
route: {match: [{receiver: a}]}
silence:
  - match: {namespace: "*shop", receiver: a}
inhibit:
  - source: {reason: x}
    target: {reason: y}
    equal: [nodeName]
receivers: [{name: a, stdout: {}}]
`), testLoadOptions(nil))
	for _, want := range []string{"silence[0].until: required", "silence[0].match.namespace", "silence[0].match.receiver", "inhibit[0].for: required", `inhibit[0].equal[0]: "nodeName" is not an event field`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v lacks %q", err, want)
		}
	}
}
