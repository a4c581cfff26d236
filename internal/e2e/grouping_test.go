package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/eventide/eventide/internal/testenv"
	"github.com/eventide/eventide/internal/testenv/kubeenv"
)

// The crash-loop scenario, in real time with short settings: one pod's
// BackOff count rises every second and its readiness probe fails twice a
// second, for 30 s, with a SIGKILL and restart in the middle. A grouping
// Slack receiver posts one message per group and edits it at most once
// per interval, the restarted process edits the same messages (no second
// post), and the last edit counts every occurrence.
func TestGroupingCrashLoop(t *testing.T) {
	ns := "e2e-group"
	w := setupNamespace(t, ns)
	slack := testenv.NewSlackServer()
	defer slack.Stop()
	config := fmt.Sprintf(`checkpoint: {name: %s}
spool: {dir: %s}
deadLetter: {path: %s}
namespace: %s
route:
  match:
    - receiver: team
receivers:
  - name: team
    slack:
      token: xoxb-test
      channel: "#alerts"
      apiURL: %s
    group:
      by: [namespace, reason, workload]
      wait: 1s
      interval: 3s
    delivery: {initialBackoff: 100ms, maxBackoff: 1s}
`, checkpointName(t), filepath.Join(t.TempDir(), "spool"), filepath.Join(t.TempDir(), "dead.jsonl"), ns, slack.GetAPIURL())
	first, _ := startProcess(t, config, "first")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	backoff, probe, occurrences, err := cluster.CrashLoop(ctx, w.Pods[0], 30*time.Second, func() {
		if err := first.Cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Error(err)
		}
		startProcess(t, config, "second")
	})
	if err != nil {
		t.Fatal(err)
	}
	// The last edit of each message counts every occurrence of its event.
	want := map[string]string{"Back-off": fmt.Sprintf("(×%d)", backoff.Count), "Readiness": fmt.Sprintf("(×%d)", probe.Count)}
	last := func() map[string]string {
		out := map[string]string{}
		for _, p := range slack.Posts() {
			out[strings.Fields(p.Get("text"))[0]] = p.Get("text")
		}
		updates, _ := slack.Updates()
		for _, u := range updates {
			out[strings.Fields(u.Get("text"))[0]] = u.Get("text")
		}
		return out
	}
	if err := testenv.PollUntil(waitCtx(t), 50*time.Millisecond, func() bool {
		l := last()
		return strings.HasSuffix(l["Back-off"], want["Back-off"]) && strings.HasSuffix(l["Readiness"], want["Readiness"])
	}); err != nil {
		t.Fatalf("last messages %q, want them to end in %v", last(), want)
	}
	posts := slack.Posts()
	if len(posts) != 2 {
		t.Errorf("%d chat.postMessage calls, want 2 (one per group, none after the restart)", len(posts))
	}
	updates, at := slack.Updates()
	prev := map[string]time.Time{}
	for i, u := range updates {
		ts := u.Get("ts")
		if p, ok := prev[ts]; ok && at[i].Sub(p) < 2800*time.Millisecond {
			t.Errorf("message %s edited %s after the edit before, under the 3s interval", ts, at[i].Sub(p))
		}
		prev[ts] = at[i]
	}
	notes := len(posts) + len(updates)
	t.Logf("crash loop with a SIGKILL: %d occurrences, %d posts + %d edits = %.0f notifications per 1000 events (one per event without grouping)",
		occurrences, len(posts), len(updates), 1000*float64(notes)/float64(occurrences))
}

// A corrupt group-state ConfigMap does not keep eventide from starting:
// the state is kept aside in a copy, and delivery goes on.
func TestCorruptGroupStateKeptAside(t *testing.T) {
	ns := "e2e-groupstate"
	w := setupNamespace(t, ns)
	rec := testenv.NewRecorder()
	defer rec.Close()
	config := durableConfig(t, ns, rec.URL, "")
	groups := checkpointName(t) + "-groups"
	ctx := context.Background()
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: groups, Namespace: kubeenv.ExporterNamespace},
		Data: map[string]string{"format": "1", "groups.json": "{not json"}}
	if _, err := cluster.CS.CoreV1().ConfigMaps(kubeenv.ExporterNamespace).Create(ctx, cm, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	_, logs := startProcess(t, config, "corrupt-state")
	if !strings.Contains(logs.String(), "group state unreadable: kept aside") {
		t.Errorf("no log saying the state was kept aside:\n%s", logs)
	}
	list, err := cluster.CS.CoreV1().ConfigMaps(kubeenv.ExporterNamespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	kept := false
	for _, c := range list.Items {
		kept = kept || (strings.HasPrefix(c.Name, groups+"-corrupt-") && c.Data["groups.json"] == "{not json")
	}
	if !kept {
		t.Errorf("no ConfigMap %s-corrupt-* holding the unreadable state", groups)
	}
	ev := kubeenv.PodEvent(w.Pods[0], "after-corrupt-state", "Warning", "BackOff", "Back-off restarting failed container")
	createEvent(t, ev)
	if _, err := rec.WaitFor(waitCtx(t), func(r []testenv.Request) bool { return len(r) >= 1 }); err != nil {
		t.Fatalf("nothing delivered after starting on a corrupt group state: %v", err)
	}
}
