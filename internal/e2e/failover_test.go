package e2e

import (
	"context"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/eventide/eventide/internal/testenv"
)

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
	dups := testenv.ExactlyOnce(t, rec, s.names, deliveredName)
	t.Logf("SIGKILL mid-stream: 0 of %d lost, %d sent twice", len(s.names), dups)
	if dups > 150 {
		t.Errorf("%d duplicates: more than the ~1s checkpoint interval at 100 events/s explains", dups)
	}
	sameKeyOnRepeats(t, rec.Requests())
}

// sameKeyOnRepeats checks that every delivery repeating an earlier one
// carries the first's Idempotency-Key, and that deliveries of different
// events carry different keys.
func sameKeyOnRepeats(t *testing.T, reqs []testenv.Request) {
	t.Helper()
	first, owner := map[string]string{}, map[string]string{}
	for _, r := range reqs {
		names := deliveredName(r)
		key := r.Header.Get("Idempotency-Key")
		if len(names) != 1 || key == "" {
			t.Errorf("a delivery without a name or an Idempotency-Key: %s %q", r.Body, key)
			continue
		}
		if k, seen := first[names[0]]; seen && k != key {
			t.Errorf("%s sent again with Idempotency-Key %s, first with %s", names[0], key, k)
		}
		if o, seen := owner[key]; seen && o != names[0] {
			t.Errorf("Idempotency-Key %s on both %s and %s", key, o, names[0])
		}
		first[names[0]], owner[key] = key, names[0]
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
	if err := testenv.PollUntil(waitCtx(t), 20*time.Millisecond, func() bool {
		return strings.Contains(aLogs.String(), "leading: delivering events")
	}); err != nil {
		t.Fatalf("replica a never led (%v):\n%s", err, aLogs)
	}
	// A standby answers /readyz (startProcess waits for it), so a rolling
	// update goes on, and says it does not lead.
	b, bLogs := startProcess(t, config, "replica-b")
	if m := processMetrics(t, b); !strings.Contains(m, "\neventide_leader 0\n") {
		t.Errorf("the ready standby does not report eventide_leader 0:\n%s", m)
	}
	if m := processMetrics(t, a); !strings.Contains(m, "\neventide_leader 1\n") {
		t.Errorf("the leader does not report eventide_leader 1")
	}
	// The standby's status page says so and names the leader: a's
	// identity is its host name and process id.
	leader := fmt.Sprintf("_%d", a.Cmd.Process.Pid)
	if err := testenv.PollUntil(waitCtx(t), 50*time.Millisecond, func() bool {
		page := getBody(t, b.WebURL+"/")
		return strings.Contains(page, `id="standby"`) && strings.Contains(page, "the leader is ") && strings.Contains(page, leader+".")
	}); err != nil {
		t.Errorf("the standby's page never named the leader (…%s): %s", leader, getBody(t, b.WebURL+"/"))
	}
	if page := getBody(t, a.WebURL+"/"); strings.Contains(page, `id="standby"`) {
		t.Error("the leader's page says standby")
	}
	s := startStream(t, w.Pods, "failover", 400, 10*time.Millisecond)
	if _, err := rec.WaitFor(waitCtx(t), func(r []testenv.Request) bool { return len(r) >= 100 }); err != nil {
		t.Fatal(err)
	}
	if err := a.Cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-s.done
	dups := testenv.ExactlyOnce(t, rec, s.names, deliveredName)
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
	dups := testenv.ExactlyOnce(t, rec, s.names, deliveredName)
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
	dups := testenv.ExactlyOnce(t, rec, s.names, deliveredName)
	t.Logf("API server restarted mid-stream: 0 of %d lost, %d sent twice", len(s.names), dups)
	if dups != 0 {
		t.Errorf("%d duplicates", dups)
	}
}
