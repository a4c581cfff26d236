package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/eventide/eventide/pkg/exporter/route"
)

// eventarbiter's flags, as its README runs it, become a route file that
// validates, routes its alarms (minus -event_filter) to the callback with
// its body and to stdout, and carries -environment.
func TestMigrateEventarbiter(t *testing.T) {
	var out, errOut bytes.Buffer
	code := Run(t.Context(), []string{"migrate", "eventarbiter",
		"-source=kubernetes:http://127.0.0.1:8080?inClusterConfig=false", "-logtostderr=true", "-max_procs=3",
		"-event_filter=pod_unhealthy,pod_insufficentcpu", "-environment=cluster=prod, region=eu-west-1",
		"-sink=callback:http://127.0.0.1:3086/alarms", "-sink=stdout"}, &out, &errOut, "test")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	for _, want := range []string{"-source is not translated", "-max_procs is not translated", "pod_insufficentcpu: an alarm of eventarbiter's earlier versions"} {
		if !strings.Contains(errOut.String(), want) {
			t.Errorf("notes lack %q:\n%s", want, errOut.String())
		}
	}
	conf := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(conf, out.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	events := filepath.Join(t.TempDir(), "events.jsonl")
	lines := []string{
		`{"metadata":{"name":"a.1","namespace":"shop"},"involvedObject":{"kind":"Pod","namespace":"shop","name":"web-1"},"reason":"BackOff","message":"Back-off restarting failed container","type":"Warning","source":{"component":"kubelet","host":"node-3"},"lastTimestamp":"2026-12-02T10:00:00Z"}`,
		`{"metadata":{"name":"n.1","namespace":"default"},"involvedObject":{"kind":"Node","name":"node-3"},"reason":"NodeNotReady","message":"Node node-3 status is now: NodeNotReady","type":"Normal","lastTimestamp":"2026-12-02T10:00:00Z"}`,
		`{"metadata":{"name":"p.1","namespace":"shop"},"involvedObject":{"kind":"Pod","namespace":"shop","name":"web-1"},"reason":"Unhealthy","message":"Readiness probe failed: 503","type":"Warning","lastTimestamp":"2026-12-02T10:00:00Z"}`,
	}
	if err := os.WriteFile(events, []byte(strings.Join(lines, "\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	var rt bytes.Buffer
	errOut.Reset()
	if code := Run(t.Context(), []string{"route-test", "-conf", conf, "-events", events, "-render"}, &rt, &errOut, "test"); code != ExitOK {
		t.Fatalf("route-test of the migrated file: exit %d: %s\n%s", code, errOut.String(), out.String())
	}
	type result struct {
		Receivers []string
		Rendered  map[string]struct{ Body map[string]any }
	}
	var results []result
	for _, l := range strings.Split(strings.TrimSpace(rt.String()), "\n") {
		var r result
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatal(err)
		}
		results = append(results, r)
	}
	for i, want := range [][]string{{"callback-1-pods", "stdout"}, {"callback-1-nodes", "stdout"}, {}} {
		if !slices.Equal(results[i].Receivers, want) {
			t.Errorf("event %d went to %v, want %v", i, results[i].Receivers, want)
		}
	}
	pod := results[0].Rendered["callback-1-pods"].Body
	env, _ := json.Marshal(pod["environment"])
	if pod["kind"] != "POD" || pod["name"] != "web-1" || pod["namespace"] != "shop" || pod["host"] != "node-3" ||
		pod["reason"] != "BackOff" || !strings.HasPrefix(pod["last_timestamp"].(string), "2026-12-02 10:00:00") ||
		string(env) != `{"cluster":"prod","region":"eu-west-1"}` {
		t.Errorf("pod alarm body %v, not eventarbiter's", pod)
	}
	if node := results[1].Rendered["callback-1-nodes"].Body; node["kind"] != "NODE" || node["host"] != nil || node["name"] != "node-3" {
		t.Errorf("node alarm body %v, not eventarbiter's", node)
	}
	for _, alarm := range eventarbiterAlarms {
		if _, ok := route.Presets[alarm]; !ok {
			t.Errorf("alarm %s is no preset", alarm)
		}
	}
}

func TestMigrateEventarbiterErrors(t *testing.T) {
	var out, errOut bytes.Buffer
	code := Run(t.Context(), []string{"migrate", "eventarbiter", "-event_filter=pod_backof", "-sink=kafka:broker", "-environment=novalue"}, &out, &errOut, "test")
	for _, want := range []string{`unknown alarm "pod_backof"`, "-sink=kafka:broker: eventarbiter's sinks are", `"novalue" is not key=value`} {
		if !strings.Contains(errOut.String(), want) {
			t.Errorf("errors lack %q: %s", want, errOut.String())
		}
	}
	if code != ExitFailed || out.Len() != 0 {
		t.Errorf("exit %d, printed %q", code, out.String())
	}
	if code := Run(t.Context(), []string{"migrate", "heapster"}, &out, &errOut, "test"); code != ExitUsage {
		t.Errorf("unknown tool: exit %d", code)
	}
}
