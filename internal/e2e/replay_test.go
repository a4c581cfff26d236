package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eventide/eventide/internal/cli"
	"github.com/eventide/eventide/internal/testenv"
	"github.com/eventide/eventide/internal/testenv/kubeenv"
)

// A team records production events with the file receiver (no layout) and
// tries a change on them: `replay -dry-run` over that file shows, for each
// event, the same payload the live pipeline sent, enrichment included.
func TestReplayDryRunMatchesLivePipeline(t *testing.T) {
	ns := "e2e-replay"
	w := setupNamespace(t, ns)
	rec := testenv.NewRecorder()
	defer rec.Close()
	recorded := filepath.Join(t.TempDir(), "recorded.jsonl")
	record := fmt.Sprintf("    delivery: {maxRetries: 1}\n  - name: record\n    file:\n      path: %s\n", recorded)
	config := strings.Replace(hookConfig(ns, rec.URL, record), "        - receiver: hook\n", "        - receiver: hook\n        - receiver: record\n", 1)
	conf := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(conf, []byte(withTestState(t, config)), 0o600); err != nil {
		t.Fatal(err)
	}
	startEventideFile(t, conf)
	const n = 6
	for i := 0; i < n; i++ {
		createEvent(t, kubeenv.PodEvent(w.Pods[i%len(w.Pods)], fmt.Sprintf("replay-%d", i), "Warning", "BackOff", "Back-off restarting failed container"))
	}
	reqs, err := rec.WaitFor(waitCtx(t), func(r []testenv.Request) bool { return len(r) >= n })
	if err != nil {
		t.Fatal(err)
	}
	live := map[string]string{}
	for _, r := range reqs {
		if names := deliveredName(r); len(names) == 1 {
			live[names[0]] = string(r.Body)
		}
	}
	if err := testenv.PollUntil(waitCtx(t), 20*time.Millisecond, func() bool {
		b, _ := os.ReadFile(recorded)
		return strings.Count(string(b), "\n") >= n
	}); err != nil {
		t.Fatal("the file receiver did not record every event")
	}

	var out, errOut strings.Builder
	if code := cli.Run(context.Background(), []string{"replay", "-conf", conf, "-events", recorded, "-dry-run"}, &out, &errOut, "test"); code != 0 {
		t.Fatalf("replay -dry-run: exit %d: %s", code, errOut.String())
	}
	shown := 0
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var p struct {
			Event, Receiver string
			Payload         struct{ Body json.RawMessage }
		}
		if err := json.Unmarshal([]byte(line), &p); err != nil {
			t.Fatalf("%v: %s", err, line)
		}
		if p.Receiver != "hook" {
			continue
		}
		name := strings.TrimPrefix(p.Event, ns+"/")
		if want, ok := live[name]; !ok || want != string(p.Payload.Body) {
			t.Errorf("%s: dry run shows\n%s\nthe live pipeline sent\n%s", name, p.Payload.Body, want)
		}
		shown++
	}
	if shown != n {
		t.Errorf("dry run showed %d webhook payloads, want %d", shown, n)
	}
}
