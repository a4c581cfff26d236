package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/eventide/eventide/internal/testenv"
	"github.com/eventide/eventide/pkg/exporter"
)

// Stopped, then started again from its checkpoint: events created or
// repeated while eventide was down are delivered, once; nothing delivered
// before is delivered again.
func TestResumeFromCheckpoint(t *testing.T) {
	ctx := context.Background()
	ns := "e2e-resume"
	w := setupNamespace(t, ns)
	rec := testenv.NewRecorder()
	defer rec.Close()
	config := hookConfig(ns, rec.URL, "")

	first := startEventide(t, config)
	var repeatMe = createEvent(t, testenv.PodEvent(w.Pods[0], "before-0", "Warning", "BackOff", "x"))
	for i := 1; i < 10; i++ {
		createEvent(t, testenv.PodEvent(w.Pods[i%3], fmt.Sprintf("before-%d", i), "Warning", "BackOff", "x"))
	}
	if _, err := rec.WaitFor(waitCtx(t), func(r []testenv.Request) bool { return len(r) == 10 }); err != nil {
		t.Fatal(err)
	}
	if code := first.stop(); code != 0 {
		t.Fatalf("exit %d", code)
	}

	// While eventide is down: new events, and a repeat of an old one.
	for i := 0; i < 10; i++ {
		createEvent(t, testenv.PodEvent(w.Pods[i%3], fmt.Sprintf("while-down-%d", i), "Warning", "BackOff", "x"))
	}
	if _, err := cluster.Repeat(ctx, repeatMe); err != nil {
		t.Fatal(err)
	}

	startEventide(t, config) // same checkpoint (same test name)
	createEvent(t, testenv.PodEvent(w.Pods[0], "marker", "Normal", "Marker", "x"))
	reqs, err := rec.WaitFor(waitCtx(t), func(r []testenv.Request) bool { return countName(decode(t, r), "marker") == 1 })
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string][]int{}
	for _, d := range decode(t, reqs) {
		seen[d.Name] = append(seen[d.Name], d.Count)
	}
	for i := 0; i < 10; i++ {
		if got := seen[fmt.Sprintf("while-down-%d", i)]; len(got) != 1 {
			t.Errorf("while-down-%d delivered %d times, want once", i, len(got))
		}
	}
	if got := fmt.Sprint(seen["before-0"]); got != "[1 2]" {
		t.Errorf("before-0 deliveries (counts) %s, want [1 2]: the first, and its repeat while down", got)
	}
	for i := 1; i < 10; i++ {
		if got := seen[fmt.Sprintf("before-%d", i)]; len(got) != 1 {
			t.Errorf("before-%d delivered %d times, want once (not again after the restart)", i, len(got))
		}
	}
}

// An event rejected for good (HTTP 400) goes to the dead-letter file with
// its reason, and is not retried.
func TestPoisonEventDeadLettered(t *testing.T) {
	ns := "e2e-poison"
	w := setupNamespace(t, ns)
	rec := testenv.NewRecorder()
	defer rec.Close()
	dl := filepath.Join(t.TempDir(), "dead.jsonl")
	ex := startEventide(t, "deadLetter: {path: "+dl+"}\n"+hookConfig(ns, rec.URL, ""))
	rec.SetStatus(400)
	createEvent(t, testenv.PodEvent(w.Pods[0], "poison", "Warning", "BackOff", "x"))
	ex.waitMetric(t, `eventide_dead_letters_total{receiver="hook"} 1`)
	rec.SetStatus(200)
	createEvent(t, testenv.PodEvent(w.Pods[0], "after", "Warning", "BackOff", "x"))
	if _, err := rec.WaitFor(waitCtx(t), func(r []testenv.Request) bool { return countName(decode(t, r), "after") == 1 }); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(dl)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	var rec0 exporter.DeadLetterRecord
	if len(lines) != 1 || json.Unmarshal([]byte(lines[0]), &rec0) != nil {
		t.Fatalf("dead-letter file: %s", b)
	}
	if rec0.Receiver != "hook" || rec0.Reason != "http_4xx" || rec0.Event.Name != "poison" || rec0.Attempts != 1 || !strings.Contains(rec0.Error, "HTTP 400") {
		t.Errorf("dead letter %+v", rec0)
	}
}
