package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/eventide/eventide/internal/testenv"
)

func replayConfig(t *testing.T, endpoint string) (conf, deadLetters string) {
	t.Helper()
	dir := t.TempDir()
	deadLetters = filepath.Join(dir, "dead.jsonl")
	conf = writeFile(t, "replay.yaml", fmt.Sprintf(`route:
  match:
    - receiver: hook
receivers:
  - name: hook
    webhook:
      endpoint: %s
      layout:
        name: "{{ .Name }}"
        owner: '{{ index .InvolvedObject.Labels "owner" }}'
        deleted: !bool "{{ .InvolvedObject.Deleted }}"
    delivery: {maxRetries: 1, initialBackoff: 10ms}
deadLetter:
  path: %s
`, endpoint, deadLetters))
	return conf, deadLetters
}

// Dead letters are re-driven once the receiver works: each is sent once,
// with the enrichment it was recorded with; dry-run shows the same body.
func TestReplayRedrivesDeadLetters(t *testing.T) {
	rec := testenv.NewRecorder()
	defer rec.Close()
	conf, _ := replayConfig(t, rec.URL)
	events := filepath.Join(eventsDir, "dead-letter.jsonl")
	var out, errOut strings.Builder
	if code := Replay(context.Background(), []string{"-conf", conf, "-events", events}, nil, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	reqs := rec.Requests()
	if len(reqs) != 1 || string(reqs[0].Body) != `{"name":"api-5c.17b1","owner":"web","deleted":true}` {
		t.Fatalf("received %d requests: %q", len(reqs), reqs)
	}
	if !strings.Contains(errOut.String(), "hook: 1 sent, 0 failed") {
		t.Errorf("summary: %s", errOut.String())
	}
	out.Reset()
	if code := Replay(context.Background(), []string{"-conf", conf, "-events", events, "-dry-run"}, nil, &out, &errOut); code != 0 {
		t.Fatalf("dry run: exit %d: %s", code, errOut.String())
	}
	var line struct {
		Receiver string
		Payload  struct{ Body json.RawMessage }
	}
	if err := json.Unmarshal([]byte(out.String()), &line); err != nil {
		t.Fatal(err)
	}
	if line.Receiver != "hook" || string(line.Payload.Body) != string(reqs[0].Body) {
		t.Errorf("dry run shows %s for %q, the receiver got %s", line.Payload.Body, line.Receiver, reqs[0].Body)
	}
	if len(rec.Requests()) != 1 {
		t.Error("the dry run sent something")
	}
}

// A receiver that still refuses: the exit status says so and the events
// are dead-lettered again, not lost.
func TestReplayFailureIsReported(t *testing.T) {
	rec := testenv.NewRecorder()
	defer rec.Close()
	rec.SetStatus(400)
	conf, deadLetters := replayConfig(t, rec.URL)
	var out, errOut strings.Builder
	code := Replay(context.Background(), []string{"-conf", conf, "-events", filepath.Join(eventsDir, "recorded.jsonl")}, nil, &out, &errOut)
	if code != 1 || !strings.Contains(errOut.String(), "hook: 0 sent, 2 failed") {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	f, err := os.Open(deadLetters)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n := 0
	for sc := bufio.NewScanner(f); sc.Scan(); n++ {
	}
	if n != 2 {
		t.Errorf("%d dead letters, want 2", n)
	}
}

func TestReplayNeedsEvents(t *testing.T) {
	var out, errOut strings.Builder
	if code := Replay(context.Background(), []string{"-conf", routesFile}, nil, &out, &errOut); code != ExitUsage || !strings.Contains(errOut.String(), "-events FILE is required") {
		t.Errorf("exit %d: %s", code, errOut.String())
	}
}
