package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/eventide/eventide/internal/testenv"
	"github.com/eventide/eventide/internal/testenv/kubeenv"
)

// reloadConfig routes every event to receiver stay, the events about the
// pod named movedPod to receiver moved, and, when added is set, every event
// to receiver added too.
func reloadConfig(state, ns, movedPod string, stay, moved, added *testenv.Recorder) string {
	hook := func(name, url string) string {
		return fmt.Sprintf("  - name: %s\n    webhook:\n      endpoint: %s\n      layout:\n        name: \"{{ .Name }}\"\n", name, url)
	}
	c := state + "namespace: " + ns + "\nroute:\n  routes:\n    - match:\n        - receiver: stay\n" +
		"    - match:\n        - name: '^" + movedPod + "$'\n          receiver: moved\n"
	if added != nil {
		c += "    - match:\n        - receiver: added\n"
	}
	c += "receivers:\n" + hook("stay", stay.URL) + hook("moved", moved.URL)
	if added != nil {
		c += hook("added", added.URL)
	}
	return c
}

// reloadSetup makes namespace ns with a workload, the three receivers'
// webhooks, and the test's state keys (the same in every version of its
// file, so a reload does not see them change).
func reloadSetup(t *testing.T, ns string) (w *kubeenv.Workload, stay, moved, added *testenv.Recorder, state string) {
	w = setupNamespace(t, ns)
	stay, moved, added = testenv.NewRecorder(), testenv.NewRecorder(), testenv.NewRecorder()
	t.Cleanup(func() {
		stay.Close()
		moved.Close()
		added.Close()
	})
	return w, stay, moved, added, withTestState(t, "")
}

// receivedIndexes maps each event of names a recorder got to how many times.
func receivedIndexes(rec *testenv.Recorder, names []string) map[int]int {
	index := make(map[string]int, len(names))
	for i, n := range names {
		index[n] = i
	}
	got := map[int]int{}
	for _, r := range rec.Requests() {
		for _, n := range deliveredName(r) {
			if i, ok := index[n]; ok {
				got[i]++
			}
		}
	}
	return got
}

// While 2000 events flow at 200/s, the mounted file is swapped the way
// kubelet does it, adding a receiver and moving a route. Every event
// reaches, exactly once, the receivers of the configuration in force when
// it was routed; the receiver that stayed loses and repeats nothing. Then
// an invalid edit is refused (the gauge drops to 0, routing goes on as
// before) and the next valid edit applies.
func TestReloadMountedConfigMidStream(t *testing.T) {
	ns := "reload-swap"
	w, stay, moved, added, state := reloadSetup(t, ns)
	pod0, pod1 := w.Pods[0].Name, w.Pods[1].Name
	mount, err := testenv.NewMountedConfig(t.TempDir(), reloadConfig(state, ns, pod0, stay, moved, nil))
	if err != nil {
		t.Fatal(err)
	}
	r := startEventideFile(t, mount.Path())

	s := startStream(t, w.Pods, "swap", 2000, 5*time.Millisecond) // 200/s for 10 s
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, err := stay.WaitFor(ctx, func(reqs []testenv.Request) bool { return len(reqs) >= 500 }); err != nil {
		t.Fatal(err)
	}
	if err := mount.Update(reloadConfig(state, ns, pod1, stay, moved, added)); err != nil {
		t.Fatal(err)
	}
	<-s.done

	if dups := testenv.ExactlyOnce(t, stay, s.names, deliveredName); dups != 0 {
		t.Errorf("the receiver that stayed got %d duplicates", dups)
	}
	got := receivedIndexes(added, s.names)
	k := len(s.names)
	for i := range got {
		k = min(k, i)
	}
	if k == 0 || k >= len(s.names)-100 {
		t.Fatalf("the new receiver's first event is #%d: the reload did not land mid-stream", k)
	}
	if dups := testenv.ExactlyOnce(t, added, s.names[k:], deliveredName); dups != 0 {
		t.Errorf("added receiver: %d duplicates", dups)
	}
	movedGot := receivedIndexes(moved, s.names)
	for i := range s.names {
		pod := i % len(w.Pods)
		want := 0
		if (i < k && pod == 0) || (i >= k && pod == 1) {
			want = 1
		}
		if got[i] != boolInt(i >= k) || movedGot[i] != want {
			t.Fatalf("event #%d (pod %d, reload at #%d): added got it %d times, moved %d times, want %d and %d",
				i, pod, k, got[i], movedGot[i], boolInt(i >= k), want)
		}
	}
	r.waitMetric(t, "eventide_config_last_reload_successful 1")
	r.waitMetric(t, `eventide_config_reloads_total{result="applied"} 1`)

	// An invalid edit is refused; the running configuration goes on.
	if err := mount.Update(state + "namespace: " + ns + "\nroute: {match: [{receiver: nobody}]}\nreceivers: [{name: stay, webhook: {endpoint: " + stay.URL + "}}]\n"); err != nil {
		t.Fatal(err)
	}
	r.waitMetric(t, "eventide_config_last_reload_successful 0")
	after := startStream(t, w.Pods, "after-invalid", 3, time.Millisecond)
	<-after.done
	testenv.ExactlyOnce(t, added, after.names, deliveredName) // still routed by the second configuration
	if !strings.Contains(r.stderr.String(), `undefined receiver \"nobody\"`) {
		t.Errorf("the refusal does not say why:\n%s", r.stderr)
	}

	// The next valid edit applies: added is removed again.
	if err := mount.Update(reloadConfig(state, ns, pod1, stay, moved, nil)); err != nil {
		t.Fatal(err)
	}
	r.waitMetric(t, "eventide_config_last_reload_successful 1")
	last := startStream(t, w.Pods, "after-valid", 3, time.Millisecond)
	<-last.done
	testenv.ExactlyOnce(t, stay, last.names, deliveredName)
	if n := len(receivedIndexes(added, last.names)); n != 0 {
		var names []string
		for _, r := range added.Requests() {
			names = append(names, deliveredName(r)...)
		}
		t.Errorf("the removed receiver got %d events: %v", n, names[max(0, len(names)-8):])
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// postReload calls POST /-/reload and returns the status and body.
// postReload posts /-/reload, again while it answers 429 (one reload a
// second), as a client honouring Retry-After would.
func postReload(t *testing.T, r *runningExporter) (int, string) {
	t.Helper()
	var (
		code int
		body string
	)
	err := testenv.PollUntil(waitCtx(t), 100*time.Millisecond, func() bool {
		resp, err := http.Post(r.metricsURL+"/-/reload", "text/plain", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		code, body = resp.StatusCode, string(b)
		return code != http.StatusTooManyRequests
	})
	if err != nil {
		t.Fatalf("/-/reload still answers 429: %v", err)
	}
	return code, body
}

// SIGHUP and POST /-/reload apply an edit the file watch cannot see (the
// config path is a link into a folder that is not watched); /-/reload
// answers 400 with every error of a refused file.
func TestReloadBySignalAndHTTP(t *testing.T) {
	ns := "reload-triggers"
	w, stay, moved, added, state := reloadSetup(t, ns)
	real := filepath.Join(t.TempDir(), "real.yaml")
	write := func(content string) {
		t.Helper()
		if err := os.WriteFile(real, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(reloadConfig(state, ns, w.Pods[0].Name, stay, moved, nil))
	link := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	r := startEventideFile(t, link)
	sendAndCheckAdded := func(prefix string, wantAdded bool) {
		t.Helper()
		s := startStream(t, w.Pods, prefix, 3, time.Millisecond)
		<-s.done
		testenv.ExactlyOnce(t, stay, s.names, deliveredName)
		if n := len(receivedIndexes(added, s.names)); (n == 3) != wantAdded {
			t.Errorf("%s: the added receiver got %d of 3 events, want it=%v", prefix, n, wantAdded)
		}
	}

	if code, body := postReload(t, r); code != http.StatusOK {
		t.Fatalf("unchanged file: %d %s", code, body)
	}
	write(state + "namespace: " + ns + "\nroute: {match: [{receiver: nobody}, {kind: '*Pod'}]}\nreceivers: [{name: stay, webhook: {endpoint: " + stay.URL + "}}]\n")
	code, body := postReload(t, r)
	if code != http.StatusBadRequest || !strings.Contains(body, `undefined receiver "nobody"`) || !strings.Contains(body, "invalid regular expression") {
		t.Errorf("invalid file: %d %q, want 400 with every error", code, body)
	}
	r.waitMetric(t, "eventide_config_last_reload_successful 0")
	sendAndCheckAdded("http-refused", false)

	write(reloadConfig(state, ns, w.Pods[0].Name, stay, moved, added))
	if code, body := postReload(t, r); code != http.StatusOK {
		t.Fatalf("valid file: %d %s", code, body)
	}
	r.waitMetric(t, "eventide_config_last_reload_successful 1")
	sendAndCheckAdded("http-applied", true)

	write(reloadConfig(state, ns, w.Pods[0].Name, stay, moved, nil))
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	r.waitMetric(t, `eventide_config_reloads_total{result="applied"} 2`)
	sendAndCheckAdded("sighup-applied", false)

	// A restart-only key is reported and the rest applies.
	write(strings.Replace(reloadConfig(state, ns, w.Pods[0].Name, stay, moved, added), "namespace: "+ns, "namespace: ["+ns+", other]", 1))
	if code, body := postReload(t, r); code != http.StatusOK {
		t.Fatalf("restart-only change: %d %s", code, body)
	}
	r.waitMetric(t, `eventide_config_restart_required_total{key="namespace"} 1`)
	sendAndCheckAdded("restart-key", true)
}
