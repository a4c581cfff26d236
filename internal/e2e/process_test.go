package e2e

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/eventide/eventide/internal/testenv"
	"github.com/eventide/eventide/internal/testenv/kubeenv"
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
			ev := kubeenv.PodEvent(pods[i%len(pods)], name, "Warning", "BackOff", "Back-off restarting failed container")
			// The API server may be restarting: retry each create for a minute.
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			_ = testenv.PollUntil(ctx, 100*time.Millisecond, func() bool {
				_, err := cluster.CS.CoreV1().Events(ev.Namespace).Create(ctx, ev, metav1.CreateOptions{})
				return err == nil
			})
			cancel()
		}
	}()
	return s
}

func startProcess(t *testing.T, config, name string) (*testenv.Process, *testenv.SyncBuffer) {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, name+".yaml")
	if err := os.WriteFile(path, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	logs := &testenv.SyncBuffer{}
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

func durableConfig(t *testing.T, ns, endpoint, extraTop string) string {
	return fmt.Sprintf("checkpoint: {name: %s}\nspool: {dir: %s}\ndeadLetter: {path: %s}\n%s",
		checkpointName(t), filepath.Join(t.TempDir(), "spool"), filepath.Join(t.TempDir(), "dead.jsonl"), extraTop) +
		hookConfig(ns, endpoint, "    delivery: {initialBackoff: 50ms, maxBackoff: 500ms}\n")
}

// processMetrics is the /metrics text of eventide running as process p.
func processMetrics(t *testing.T, p *testenv.Process) string {
	t.Helper()
	return getBody(t, p.MetricsURL+"/metrics")
}
