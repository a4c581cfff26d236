package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/eventide/eventide/internal/testenv"
)

var (
	binaryOnce sync.Once
	binaryPath string
	binaryErr  error
)

// eventideBinary builds eventide once for the tests that run it as a process.
func eventideBinary(t *testing.T) string {
	t.Helper()
	binaryOnce.Do(func() {
		dir, err := os.MkdirTemp("", "eventide-bin-")
		if err != nil {
			binaryErr = err
			return
		}
		binaryPath, binaryErr = testenv.BuildEventide(dir)
	})
	if binaryErr != nil {
		t.Fatal(binaryErr)
	}
	return binaryPath
}

// stream creates n events named prefix-00000… about pods, one every
// interval, retrying each until the API server takes it (it may be down),
// and returns their names once all exist.
type stream struct {
	names []string
	done  chan struct{}
}

func startStream(t *testing.T, pods []*corev1.Pod, prefix string, n int, interval time.Duration) *stream {
	s := &stream{done: make(chan struct{})}
	for i := 0; i < n; i++ {
		s.names = append(s.names, fmt.Sprintf("%s-%05d", prefix, i))
	}
	go func() {
		defer close(s.done)
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for i, name := range s.names {
			<-tick.C
			ev := testenv.PodEvent(pods[i%len(pods)], name, "Warning", "BackOff", "Back-off restarting failed container")
			for attempt := 0; ; attempt++ {
				_, err := cluster.CS.CoreV1().Events(ev.Namespace).Create(context.Background(), ev, metav1.CreateOptions{})
				if err == nil || attempt > 600 {
					break
				}
				time.Sleep(100 * time.Millisecond) // the API server is restarting
			}
		}
	}()
	return s
}

// exactlyOnce waits until every name was delivered and reports the
// duplicates: lost events fail the test.
func exactlyOnce(t *testing.T, rec *testenv.Recorder, names []string) (dups int) {
	t.Helper()
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	reqs, err := rec.WaitFor(ctx, func(r []testenv.Request) bool {
		got := map[string]bool{}
		for _, d := range decode(t, r) {
			if want[d.Name] {
				got[d.Name] = true
			}
		}
		return len(got) == len(want)
	})
	counts := map[string]int{}
	for _, d := range decode(t, reqs) {
		counts[d.Name]++
	}
	lost := 0
	for n := range want {
		switch c := counts[n]; {
		case c == 0:
			lost++
		case c > 1:
			dups += c - 1
		}
	}
	if err != nil || lost > 0 {
		t.Fatalf("%d of %d events lost (%v)", lost, len(names), err)
	}
	return dups
}

func startProcess(t *testing.T, config, name string) (*testenv.Process, *syncWriter) {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, name+".yaml")
	if err := os.WriteFile(path, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	logs := &syncWriter{}
	p, err := testenv.StartEventide(context.Background(), eventideBinary(t), path, controlPlane.ExporterKubeconfig, io.Discard, logs)
	if err != nil {
		t.Fatalf("%v\n%s", err, logs)
	}
	t.Cleanup(func() {
		p.Stop()
		if t.Failed() {
			t.Logf("%s log:\n%s", name, logs)
		}
	})
	return p, logs
}

type syncWriter struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *syncWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

func durableConfig(t *testing.T, ns, endpoint, extraTop string) string {
	return fmt.Sprintf("checkpoint: {name: %s}\nspool: {dir: %s}\ndeadLetter: {path: %s}\n%s",
		checkpointName(t), filepath.Join(t.TempDir(), "spool"), filepath.Join(t.TempDir(), "dead.jsonl"), extraTop) +
		hookConfig(ns, endpoint, "    delivery: {initialBackoff: 50ms, maxBackoff: 500ms}\n")
}

// SIGKILL mid-stream, then a restart: nothing lost; what was delivered
// after the last checkpoint write (at most checkpoint.interval) is sent
// again.
func TestKillAndRestartMidStream(t *testing.T) {
	ns := "e2e-kill"
	w := setupNamespace(t, ns)
	rec := testenv.NewRecorder()
	defer rec.Close()
	config := durableConfig(t, ns, rec.URL, "")
	p, _ := startProcess(t, config, "first")
	s := startStream(t, w.Pods, "kill", 300, 10*time.Millisecond) // 100/s for 3 s
	if _, err := rec.WaitFor(waitCtx(t), func(r []testenv.Request) bool { return len(r) >= 100 }); err != nil {
		t.Fatal(err)
	}
	if err := p.Cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	startProcess(t, config, "second")
	<-s.done
	dups := exactlyOnce(t, rec, s.names)
	t.Logf("SIGKILL mid-stream: 0 of %d lost, %d sent twice", len(s.names), dups)
	if dups > 150 {
		t.Errorf("%d duplicates: more than the ~1s checkpoint interval at 100 events/s explains", dups)
	}
}

// Two replicas with leader election; the leader is killed mid-stream and
// the standby takes over from the checkpoint.
func TestLeaderKilledStandbyTakesOver(t *testing.T) {
	ns := "e2e-leader"
	w := setupNamespace(t, ns)
	rec := testenv.NewRecorder()
	defer rec.Close()
	config := durableConfig(t, ns, rec.URL,
		fmt.Sprintf("leaderElection: {enabled: true, leaderElectionID: le-%s, leaseDuration: 4s, renewDeadline: 3s, retryPeriod: 500ms}\n", ns))
	a, aLogs := startProcess(t, config, "replica-a")
	// Wait until a leads before the second replica starts.
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(aLogs.String(), "leading: delivering events") {
		if time.Now().After(deadline) {
			t.Fatalf("replica a never led:\n%s", aLogs)
		}
		time.Sleep(20 * time.Millisecond)
	}
	_, bLogs := startProcess(t, config, "replica-b")
	s := startStream(t, w.Pods, "failover", 400, 10*time.Millisecond)
	if _, err := rec.WaitFor(waitCtx(t), func(r []testenv.Request) bool { return len(r) >= 100 }); err != nil {
		t.Fatal(err)
	}
	if err := a.Cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-s.done
	dups := exactlyOnce(t, rec, s.names)
	if !strings.Contains(bLogs.String(), "leading: delivering events") {
		t.Error("replica b never took over")
	}
	t.Logf("leader killed mid-stream: 0 of %d lost, %d sent twice", len(s.names), dups)
	if dups > 150 {
		t.Errorf("%d duplicates: more than the ~1s checkpoint interval at 100 events/s explains", dups)
	}
}

// A receiver answering 503 for 30 s mid-stream: its events wait (memory,
// then the disk spool) and arrive once each, in order, after it recovers.
func TestReceiverDown30sMidStream(t *testing.T) {
	ns := "e2e-down30"
	w := setupNamespace(t, ns)
	rec := testenv.NewRecorder()
	defer rec.Close()
	ex := startEventide(t, hookConfig(ns, rec.URL, "    delivery: {queueSize: 50, initialBackoff: 100ms, maxBackoff: 1s}\n"))
	s := startStream(t, w.Pods, "down", 1000, 34*time.Millisecond) // ~30/s for ~34 s
	if _, err := rec.WaitFor(waitCtx(t), func(r []testenv.Request) bool { return len(r) >= 40 }); err != nil {
		t.Fatal(err)
	}
	rec.SetStatus(503)
	time.Sleep(30 * time.Second) // the outage itself, not a wait for a result
	// With a memory queue of 50 and ~900 events during the outage, the
	// overflow must be on disk now.
	if v := metricValue(t, ex.metrics(t), `eventide_receiver_spool_events{receiver="hook"}`); v < 500 {
		t.Errorf("%v events spooled after the outage, want the overflow (> 500) on disk", v)
	}
	rec.SetStatus(200)
	<-s.done
	dups := exactlyOnce(t, rec, s.names)
	if dups != 0 {
		t.Errorf("%d duplicates", dups)
	}
	last := -1
	for _, d := range decode(t, rec.Requests()) {
		var n int
		if _, err := fmt.Sscanf(d.Name, "down-%05d", &n); err == nil {
			if n < last {
				t.Fatalf("%s delivered after down-%05d: out of order", d.Name, last)
			}
			last = n
		}
	}
	t.Logf("receiver down 30 s: 0 of %d lost, in order", len(s.names))
}

// The API server restarts mid-stream: the watch relists, and every event
// is delivered once.
func TestAPIServerRestartMidStream(t *testing.T) {
	ns := "e2e-apirestart"
	w := setupNamespace(t, ns)
	rec := testenv.NewRecorder()
	defer rec.Close()
	startEventide(t, hookConfig(ns, rec.URL, ""))
	s := startStream(t, w.Pods, "apirestart", 300, 10*time.Millisecond)
	if _, err := rec.WaitFor(waitCtx(t), func(r []testenv.Request) bool { return len(r) >= 50 }); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := controlPlane.RestartAPIServer(ctx); err != nil {
		t.Fatal(err)
	}
	<-s.done
	dups := exactlyOnce(t, rec, s.names)
	t.Logf("API server restarted mid-stream: 0 of %d lost, %d sent twice", len(s.names), dups)
	if dups != 0 {
		t.Errorf("%d duplicates", dups)
	}
}

// metricValue reads one sample from Prometheus text.
func metricValue(t *testing.T, text, series string) float64 {
	t.Helper()
	for _, line := range strings.Split(text, "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			var f float64
			if _, err := fmt.Sscan(v, &f); err == nil {
				return f
			}
		}
	}
	t.Fatalf("no sample %s", series)
	return 0
}
