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
// The record names "slack", a receiver this config does not have: by
// default it is not sent (and the summary says so); -all-receivers routes
// it again.
func TestReplayRedrivesDeadLetters(t *testing.T) {
	rec := testenv.NewRecorder()
	defer rec.Close()
	conf, _ := replayConfig(t, rec.URL)
	events := filepath.Join(eventsDir, "dead-letter.jsonl")
	var out, errOut strings.Builder
	if code := Replay(context.Background(), []string{"-conf", conf, "-events", events}, nil, &out, &errOut); code != 1 ||
		!strings.Contains(errOut.String(), "1 dead-letter records name a receiver this config does not have") || len(rec.Requests()) != 0 {
		t.Fatalf("a record naming a receiver the config lacks: exit %d, %d sent: %s", code, len(rec.Requests()), errOut.String())
	}
	errOut.Reset()
	if code := Replay(context.Background(), []string{"-conf", conf, "-events", events, "-all-receivers"}, nil, &out, &errOut); code != 0 {
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
	if code := Replay(context.Background(), []string{"-conf", conf, "-events", events, "-dry-run", "-all-receivers"}, nil, &out, &errOut); code != 0 {
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
	if n := countLines(t, replayDeadLetters(t, errOut.String())); n != 2 {
		t.Errorf("%d dead letters, want 2", n)
	}
	if _, err := os.Stat(deadLetters); !os.IsNotExist(err) {
		t.Errorf("the replay wrote to the configured dead-letter file (%v): it writes a new file of its own", err)
	}
}

// replayDeadLetters is the file replay's summary names for its own dead
// letters; it must be a new file beside the configured one.
func replayDeadLetters(t *testing.T, summary string) string {
	t.Helper()
	_, path, ok := strings.Cut(summary, "dead letters of this replay: ")
	path = strings.TrimSpace(path)
	if !ok || !strings.Contains(filepath.Base(path), "dead.replay-") {
		t.Fatalf("the summary does not name a new dead-letter file:\n%s", summary)
	}
	return path
}

func countLines(t *testing.T, path string) int {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n := 0
	for sc := bufio.NewScanner(f); sc.Scan(); n++ {
	}
	return n
}

// Replaying the live dead-letter file while the receiver still fails: the
// replay reads the file as it was (not the dead letters it writes), sends
// each record once, to the receiver it names only, and leaves the file as
// it was. (It used to read its own output: 1000 records became 75 908
// sends.)
func TestReplayOfLiveDeadLetterFile(t *testing.T) {
	failing, other := testenv.NewRecorder(), testenv.NewRecorder()
	defer failing.Close()
	defer other.Close()
	failing.SetStatus(400)
	dir := t.TempDir()
	deadLetters := filepath.Join(dir, "dead.jsonl")
	conf := writeFile(t, "replay.yaml", fmt.Sprintf(`route:
  match:
    - receiver: hook
    - receiver: other
receivers:
  - name: hook
    webhook: {endpoint: %s}
    delivery: {maxRetries: 1, initialBackoff: 10ms}
  - name: other
    webhook: {endpoint: %s}
deadLetter:
  path: %s
`, failing.URL, other.URL, deadLetters))
	record, err := os.ReadFile(filepath.Join(eventsDir, "dead-letter.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	var rec map[string]any
	if err := json.Unmarshal([]byte(strings.SplitN(string(record), "\n", 2)[0]), &rec); err != nil {
		t.Fatal(err)
	}
	rec["receiver"] = "hook"
	line, _ := json.Marshal(rec)
	const records = 200
	if err := os.WriteFile(deadLetters, []byte(strings.Repeat(string(line)+"\n", records)), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errOut strings.Builder
	// The replay's dead letters go, as asked, into the file it reads.
	code := Replay(context.Background(), []string{"-conf", conf, "-events", deadLetters, "-dead-letter", deadLetters}, nil, &out, &errOut)
	if code != 1 {
		t.Fatalf("exit %d with a failing receiver: %s", code, errOut.String())
	}
	if want := fmt.Sprintf("hook: 0 sent, %d failed", records); !strings.Contains(errOut.String(), want) {
		t.Errorf("summary does not say %q (one failed send per record):\n%s", want, errOut.String())
	}
	if n := len(other.Requests()); n != 0 {
		t.Errorf("%d sends to a receiver the records do not name", n)
	}
	if n := countLines(t, deadLetters); n != 2*records {
		t.Errorf("%d lines in the dead-letter file after the replay, want the %d read plus %d new", n, records, records)
	}
}

func TestReplayNeedsEvents(t *testing.T) {
	var out, errOut strings.Builder
	if code := Replay(context.Background(), []string{"-conf", routesFile}, nil, &out, &errOut); code != ExitUsage || !strings.Contains(errOut.String(), "-events FILE is required") {
		t.Errorf("exit %d: %s", code, errOut.String())
	}
}
