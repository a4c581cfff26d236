// Package e2e runs eventide end to end against a real kube-apiserver and
// etcd (internal/testenv) and real or faithful sink servers. Files are by
// topic: pipeline, eventsv1 (events.k8s.io/v1 writers), durability,
// failover, reload, grouping, replay, cli, process (the built binary),
// chart, image, receivers (webhook, Slack, Opsgenie, AWS), and one per
// receiver with a server of its own: kafka, syslog, search
// (Elasticsearch, OpenSearch), loki, pubsub, bigquery; robots (DingTalk,
// WeCom, Feishu) and datasinks (InfluxDB, MariaDB, PostgreSQL, Log
// Service) for the kube-eventer family. TestMain starts
// one control plane; each test works in its own namespace and runs its
// own eventide, in-process through internal/cli or as a built binary.
package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/eventide/eventide/internal/cli"
	"github.com/eventide/eventide/internal/testenv"
	"github.com/eventide/eventide/internal/testenv/kubeenv"
	"k8s.io/client-go/kubernetes"
)

// The integration tests share one real kube-apiserver + etcd; each test
// works in its own namespace and runs its own eventide watching only it.
var (
	controlPlane *kubeenv.ControlPlane
	cluster      *kubeenv.Cluster
)

func TestMain(m *testing.M) {
	os.Exit(func() int {
		dir, err := os.MkdirTemp("", "eventide-cp-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		// Defaults under $TMPDIR (the spool, its checkpoint mirror) are
		// this run's: a file left by an earlier run, against another
		// etcd, must not reach these tests.
		tmp := filepath.Join(dir, "tmp")
		if err := os.Mkdir(tmp, 0o700); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		os.Setenv("TMPDIR", tmp)
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
		controlPlane, err = kubeenv.StartControlPlane(ctx, dir)
		cancel()
		if err != nil {
			fmt.Fprintln(os.Stderr, "control plane:", err)
			return 1
		}
		defer controlPlane.Stop()
		cs, err := kubernetes.NewForConfig(controlPlane.Admin)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		cluster = &kubeenv.Cluster{CS: cs}
		return m.Run()
	}())
}

type runningExporter struct {
	metricsURL string
	webURL     string // the status page
	stdout     *testenv.SyncBuffer
	stderr     *testenv.SyncBuffer
	stop       func() int
}

// startEventide runs eventide in-process as the exporter user (chart RBAC
// only) with config, and returns once its caches synced.
func startEventide(t *testing.T, config string) *runningExporter {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte(withTestState(t, config)), 0o600); err != nil {
		t.Fatal(err)
	}
	return startEventideFile(t, path)
}

// withTestState gives config the test's own checkpoint ConfigMap, spool
// and dead-letter file, unless it names them.
func withTestState(t *testing.T, config string) string {
	if !strings.Contains(config, "\ncheckpoint:") {
		config = fmt.Sprintf("checkpoint: {name: %s}\n", checkpointName(t)) + config
	}
	if !strings.Contains(config, "spool:") {
		config = fmt.Sprintf("spool: {dir: %s}\n", filepath.Join(t.TempDir(), "spool")) + config
	}
	if !strings.Contains(config, "\ndeadLetter:") {
		config = fmt.Sprintf("deadLetter: {path: %s}\n", filepath.Join(t.TempDir(), "dead-letter.jsonl")) + config
	}
	return config
}

// startEventideFile runs eventide in-process on the config file at path.
func startEventideFile(t *testing.T, path string) *runningExporter {
	t.Helper()
	port, err := testenv.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	webPort, err := testenv.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	r := &runningExporter{metricsURL: fmt.Sprintf("http://127.0.0.1:%d", port), webURL: fmt.Sprintf("http://127.0.0.1:%d", webPort),
		stdout: &testenv.SyncBuffer{}, stderr: &testenv.SyncBuffer{}}
	// Every end-to-end run serves the status page: it is read under the
	// same load as the rest.
	f := cli.ServeFlags{Conf: path, Kubeconfig: controlPlane.ExporterKubeconfig, MetricsAddress: r.metricsURL[len("http://"):],
		DrainTimeout: 5 * time.Second, WebAddress: r.webURL[len("http://"):], RecentEvents: 500}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan struct{})
	done := make(chan int, 1)
	go func() { done <- cli.ServeContext(ctx, f, r.stdout, r.stderr, "test", func() { close(ready) }) }()
	select {
	case <-ready:
	case code := <-done:
		cancel()
		t.Fatalf("eventide exited with %d before it was ready:\n%s", code, r.stderr)
	case <-time.After(60 * time.Second):
		cancel()
		t.Fatalf("eventide not ready after 60s:\n%s", r.stderr)
	}
	var once sync.Once
	code := 0
	r.stop = func() int {
		once.Do(func() { cancel(); code = <-done })
		return code
	}
	t.Cleanup(func() {
		r.stop()
		if t.Failed() {
			t.Logf("eventide log:\n%s", r.stderr)
		}
	})
	return r
}

// checkpointName is a ConfigMap name of the test's own.
func checkpointName(t *testing.T) string {
	return "cp-" + strings.ToLower(strings.NewReplacer("/", "-", "_", "-").Replace(t.Name()))
}

func (r *runningExporter) metrics(t *testing.T) string {
	t.Helper()
	return getBody(t, r.metricsURL+"/metrics")
}

func waitCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func createEvent(t *testing.T, ev *corev1.Event) *corev1.Event {
	t.Helper()
	out, err := cluster.CS.CoreV1().Events(ev.Namespace).Create(context.Background(), ev, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create event %s: %v", ev.Name, err)
	}
	return out
}

// delivered is the part of a payload the tests look at.
type delivered struct {
	Name      string         `json:"name"`
	Reason    string         `json:"reason"`
	Count     int            `json:"count"`
	Owner     string         `json:"owner"`
	Workload  string         `json:"workload"`
	Deleted   bool           `json:"deleted"`
	Labels    map[string]any `json:"labels"`
	Pager     string         `json:"pager"`
	Cluster   string         `json:"cluster"`
	Timestamp int64          `json:"ts"`
}

func decode(t *testing.T, reqs []testenv.Request) []delivered {
	t.Helper()
	out := make([]delivered, len(reqs))
	for i, r := range reqs {
		if err := json.Unmarshal(r.Body, &out[i]); err != nil {
			t.Fatalf("payload %q: %v", r.Body, err)
		}
	}
	return out
}

func countName(reqs []delivered, name string) int {
	n := 0
	for _, r := range reqs {
		if r.Name == name {
			n++
		}
	}
	return n
}

const layoutConfig = `
clusterName: test-cluster
namespace: %[1]s
logLevel: debug
route:
  routes:
    - match:
        - receiver: all
    - drop:
        - reason: "^Pulled$"
      match:
        - type: "^Warning$"
          receiver: warnings
receivers:
  - name: all
    webhook:
      endpoint: %[2]s
      headers:
        X-Owner: "{{ .InvolvedObject.Labels.owner }}"
        Authorization: "Bearer ${EVENTIDE_TEST_TOKEN}"
      layout:
        name: "{{ .Name }}"
        reason: "{{ .Reason }}"
        count: !int "{{ .GetCount }}"
        owner: "{{ .InvolvedObject.Labels.owner }}"
        workload: "{{ with .InvolvedObject.Workload }}{{ .Kind }}/{{ .Name }}{{ end }}"
        deleted: !bool "{{ .InvolvedObject.Deleted }}"
        labels: !json "{{ toJson .InvolvedObject.Labels }}"
        pager: '{{ index .InvolvedObject.Annotations "team.example/pager" }}'
        cluster: "{{ .ClusterName }}"
        ts: !int "{{ .GetTimestampMs }}"
  - name: warnings
    webhook:
      endpoint: %[3]s
  - name: stuck
    webhook:
      endpoint: %[4]s
    delivery:
      timeout: 30s
`

const testLayout = `        name: "{{ .Name }}"
        count: !int "{{ .GetCount }}"
        owner: "{{ .InvolvedObject.Labels.owner }}"
        workload: "{{ with .InvolvedObject.Workload }}{{ .Kind }}/{{ .Name }}{{ end }}"
        deleted: !bool "{{ .InvolvedObject.Deleted }}"
`

func hookConfig(ns, url string, extra string) string {
	return kubeenv.HookConfig(ns, url, testLayout, extra)
}

// waitMetric polls eventide's metrics until they contain want.
func (r *runningExporter) waitMetric(t *testing.T, want string) {
	t.Helper()
	if err := testenv.PollUntil(waitCtx(t), 20*time.Millisecond, func() bool { return strings.Contains(r.metrics(t), want) }); err != nil {
		t.Fatalf("metrics never showed %s (%v):\n%s", want, err, r.metrics(t))
	}
}

func setupNamespace(t *testing.T, ns string) *kubeenv.Workload {
	t.Helper()
	ctx := context.Background()
	if err := cluster.CreateNamespace(ctx, ns); err != nil {
		t.Fatal(err)
	}
	w, err := cluster.CreateWorkload(ctx, ns, "app", 3, map[string]string{"owner": "team-" + ns})
	if err != nil {
		t.Fatal(err)
	}
	return w
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

// deliveredName is the event name a test webhook request carries.
func deliveredName(r testenv.Request) []string {
	var d delivered
	if json.Unmarshal(r.Body, &d) != nil {
		return nil
	}
	return []string{d.Name}
}
