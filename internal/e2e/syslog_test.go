package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/eventide/eventide/internal/testenv"
	"github.com/eventide/eventide/internal/testenv/kubeenv"
)

// Events from the cluster reach rsyslog over TCP once each, in order, as
// warnings with the pod's owner in the layout.
func TestSyslogReceiver(t *testing.T) {
	ns := "e2e-syslog"
	w := setupNamespace(t, ns)
	r, err := testenv.StartRsyslog(context.Background(), t.TempDir())
	if err != nil {
		t.Skip(err)
	}
	defer r.Stop()
	startEventide(t, fmt.Sprintf(`namespace: %s
clusterName: e2e
route:
  match:
    - receiver: syslog
receivers:
  - name: syslog
    syslog:
      network: tcp
      address: "%s"
      tag: kube-events
      layout:
        name: "{{ .Name }}"
        owner: '{{ index .InvolvedObject.Labels "owner" }}'
`, ns, r.TCP))
	const n = 10
	for i := 0; i < n; i++ {
		createEvent(t, kubeenv.PodEvent(w.Pods[i%len(w.Pods)], fmt.Sprintf("syslog-%02d", i), "Warning", "BackOff", "Back-off"))
	}
	lines, err := r.Lines(waitCtx(t), n)
	if err != nil {
		t.Fatal(err)
	}
	// Events about different objects may pass each other (a lookup waits
	// for its object only); each one arrives once.
	seen := map[int]int{}
	for _, line := range lines {
		var i int
		tail := fmt.Sprintf(`|e2e|kube-events|BackOff|{"name":"syslog-%%02d","owner":"team-%s"}`, ns)
		if !strings.HasPrefix(line, "132|") {
			t.Errorf("%s: want <132> (local0.warning)", line)
		}
		if _, err := fmt.Sscanf(line[strings.Index(line, "|e2e|"):], tail, &i); err != nil {
			t.Errorf("%s: want …%s (%v)", line, tail, err)
		}
		seen[i]++
	}
	for i := 0; i < n; i++ {
		if seen[i] != 1 {
			t.Errorf("syslog-%02d arrived %d times", i, seen[i])
		}
	}
	if len(lines) != n {
		t.Errorf("%d lines, want %d", len(lines), n)
	}
}
