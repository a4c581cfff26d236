package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/eventide/eventide/internal/testenv"
	"github.com/eventide/eventide/internal/testenv/kubeenv"
)

// crashLoop runs the crash-loop scenario (testenv.CrashLoop: BackOff
// every second, a readiness probe failing twice a second) for
// o.duration against a Slack receiver, once without grouping and once
// with it, and prints the Slack calls per 1000 events of each.
func crashLoop(ctx context.Context, o options) error {
	dir, err := os.MkdirTemp("", "eventide-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	cp, cluster, stopCluster, err := kubeenv.LocalCluster(ctx)
	if err != nil {
		return err
	}
	defer stopCluster()
	binary := o.binary
	if binary == "" {
		if binary, err = testenv.BuildEventide(dir); err != nil {
			return err
		}
	}
	fmt.Printf("crash loop for %s: notifications per 1000 events\n", o.duration)
	for _, group := range []string{"", "    group: {by: [namespace, reason, workload], wait: 1s, interval: 3s}\n"} {
		ns := "crashloop-plain"
		if group != "" {
			ns = "crashloop-grouped"
		}
		if err := cluster.CreateNamespace(ctx, ns); err != nil {
			return err
		}
		w, err := cluster.CreateWorkload(ctx, ns, "app", 1, map[string]string{"owner": "team"})
		if err != nil {
			return err
		}
		slack := testenv.NewSlackServer()
		config := filepath.Join(dir, ns+".yaml")
		body := fmt.Sprintf("logLevel: warn\ncheckpoint: {name: %s}\nspool: {dir: %s}\ndeadLetter: {path: %s}\nnamespace: %s\n"+
			"route: {match: [{receiver: team}]}\nreceivers:\n  - name: team\n    slack: {token: xoxb-bench, channel: '#alerts', apiURL: %q}\n%s",
			ns, filepath.Join(dir, ns+"-spool"), filepath.Join(dir, ns+"-dead.jsonl"), ns, slack.GetAPIURL(), group)
		if err := os.WriteFile(config, []byte(body), 0o600); err != nil {
			return err
		}
		proc, err := testenv.StartEventide(ctx, binary, config, cp.ExporterKubeconfig, nil, nil)
		if err != nil {
			return err
		}
		backoff, probe, n, err := cluster.CrashLoop(ctx, w.Pods[0], o.duration, nil)
		if err != nil {
			proc.Stop()
			return err
		}
		calls := func() (posts, edits int) {
			updates, _ := slack.Updates()
			return len(slack.Posts()), len(updates)
		}
		// Done when the last count of each event shows in Slack.
		done := func() bool {
			if group == "" {
				posts, _ := calls()
				return posts >= n
			}
			var texts []string
			for _, p := range slack.Posts() {
				texts = append(texts, p.Get("text"))
			}
			updates, _ := slack.Updates()
			for _, u := range updates {
				texts = append(texts, u.Get("text"))
			}
			all := strings.Join(texts, "\n")
			return strings.Contains(all, fmt.Sprintf("(×%d)", backoff.Count)) && strings.Contains(all, fmt.Sprintf("(×%d)", probe.Count))
		}
		err = waitFor(time.Minute, done)
		proc.Stop()
		slack.Stop()
		if err != nil {
			return fmt.Errorf("%s: %w", ns, err)
		}
		posts, edits := calls()
		label := "without grouping"
		if group != "" {
			label = "with grouping (wait 1s, interval 3s)"
		}
		fmt.Printf("  %-38s %3d events: %3d posts + %3d edits = %4.0f per 1000 events\n", label, n, posts, edits, 1000*float64(posts+edits)/float64(n))
	}
	return nil
}
