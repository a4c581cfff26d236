package exporter

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/eventide/eventide/internal/testenv"
	"github.com/eventide/eventide/pkg/exporter/config"
	"github.com/eventide/eventide/pkg/exporter/runtime"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

func TestRestartOnlyChanges(t *testing.T) {
	load := func(extra string) *config.Config {
		l, err := config.Load([]byte(extra+"route: {match: [{receiver: r}]}\nreceivers: [{name: r, stdout: {}}]\n"), testLoadOptions(nil))
		if err != nil {
			t.Fatal(err)
		}
		return &l.Config
	}
	running := load("namespace: a\nlogLevel: info\nclusterName: one\nextraFields: {env: one}\n")
	next := load("namespace: b\nlogLevel: debug\nclusterName: two\nkubeQPS: 50\nomitLookup: true\nextraFields: {env: two}\nenrich: {annotations: [team]}\n")
	keys := restartOnlyChanges(running, next)
	if want := []string{"namespace", "kubeQPS", "omitLookup", "enrich"}; !reflect.DeepEqual(keys, want) {
		t.Errorf("restart-only keys %v, want %v", keys, want)
	}
	if next.Namespace[0] != "a" || next.KubeQPS != config.DefaultKubeQPS || next.OmitLookup || next.LogLevel != "debug" || next.ClusterName != "two" ||
		next.ExtraFields["env"] != "two" || next.Enrich.Annotations != nil {
		t.Errorf("next %+v: restart-only keys keep the running values, the live ones change", next)
	}
}

// reloadFixture runs a pipeline and runtime with file receivers, as the
// engine does, without a cluster.
type reloadFixture struct {
	dir     string
	e       *Engine
	tracker *Tracker
	done    chan struct{}
}

func (f *reloadFixture) config(t *testing.T, top string, receivers ...string) *config.Loaded {
	t.Helper()
	var rs, ms []string
	for _, r := range receivers {
		name, file, _ := strings.Cut(r, "=")
		sink := fmt.Sprintf("file: {path: %s, layout: {n: '{{ .Name }}', c: '{{ .ClusterName }}'}}", filepath.Join(f.dir, file))
		if strings.HasPrefix(file, "http") {
			sink = "webhook: {endpoint: '" + file + "'}"
		}
		rs = append(rs, fmt.Sprintf("  - {name: %s, %s}", name, sink))
		ms = append(ms, "    - receiver: "+name)
	}
	src := top + "route:\n  match:\n" + strings.Join(ms, "\n") + "\nreceivers:\n" + strings.Join(rs, "\n") + "\n"
	l, err := config.Load([]byte(src), testLoadOptions(nil))
	if err != nil {
		t.Fatalf("%v\n%s", err, src)
	}
	return l
}

func startReloadFixture(t *testing.T, first func(*reloadFixture) *config.Loaded) *reloadFixture {
	f := &reloadFixture{dir: t.TempDir(), done: make(chan struct{})}
	l := first(f)
	m := NewMetrics(prometheus.NewRegistry(), "")
	names := make([]string, len(l.Receivers))
	for i, r := range l.Receivers {
		names[i] = r.Name
	}
	f.tracker = NewTracker(names, false, nil)
	rt, err := runtime.NewRuntime(l.Receivers, m.Metrics, zerolog.Nop(), runtime.Options{Tracker: f.tracker})
	if err != nil {
		t.Fatal(err)
	}
	p := NewPipeline(l, rt, m, PipelineOptions{Tracker: f.tracker})
	f.e = &Engine{loaded: l, live: &running{pipeline: p, runtime: rt, tracker: f.tracker}, deliveryOwnsSinks: true,
		m: m, log: zerolog.Nop(), drain: 5 * time.Second}
	rt.Start()
	go func() { p.Run(context.Background()); close(f.done) }()
	t.Cleanup(func() {
		p.Close()
		<-f.done
		rt.Shutdown(context.Background())
	})
	return f
}

func (f *reloadFixture) send(from, to int) {
	for rv := from; rv <= to; rv++ {
		f.e.live.pipeline.Handle(rvNamed(rv))
	}
}

// lines are the "name@cluster" a receiver's file holds.
func (f *reloadFixture) lines(file string) []string {
	b, _ := os.ReadFile(filepath.Join(f.dir, file))
	var out []string
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var v struct{ N, C string }
		if json.Unmarshal([]byte(l), &v) == nil {
			out = append(out, v.N+"@"+v.C)
		}
	}
	return out
}

func seq(from, to int, cluster string) []string {
	var out []string
	for i := from; i <= to; i++ {
		out = append(out, fmt.Sprintf("%d@%s", i, cluster))
	}
	return out
}

// A reload keeps an unchanged receiver as it is, rebuilds a changed one
// without losing what was queued, drains a removed one and forgets its
// checkpoint, starts an added one from the current position, and swaps the
// routes and clusterName for the events that follow.
func TestEngineReloadReceivers(t *testing.T) {
	f := startReloadFixture(t, func(f *reloadFixture) *config.Loaded {
		return f.config(t, "clusterName: one\n", "keep=keep", "change=change-1", "gone=gone")
	})
	f.send(1, 5)
	testenv.Eventually(t, "first events delivered", func() bool { return len(f.lines("keep")) == 5 && f.tracker.Pending("change") == 0 })
	keepWorker, _ := f.e.live.runtime.Status("keep")

	next := f.config(t, "clusterName: two\nnamespace: elsewhere\n", "keep=keep", "change=change-2", "added=added")
	restart, err := f.e.Reload(next)
	if err != nil || !reflect.DeepEqual(restart, []string{"namespace"}) {
		t.Fatalf("reload: %v, restart-only keys %v", err, restart)
	}
	f.send(6, 10)
	testenv.Eventually(t, "events after the reload delivered", func() bool {
		return len(f.lines("keep")) == 10 && len(f.lines("change-2")) == 5 && len(f.lines("added")) == 5
	})
	rt := f.e.live.runtime
	if s, _ := rt.Status("keep"); s.Worker != keepWorker.Worker {
		t.Error("the unchanged receiver's worker was replaced")
	}
	if _, ok := rt.Status("gone"); ok {
		t.Error("the removed receiver still runs")
	}
	for file, want := range map[string][]string{
		"keep":     append(seq(1, 5, "one"), seq(6, 10, "two")...),
		"change-1": seq(1, 5, "one"),
		"change-2": seq(6, 10, "two"),
		"gone":     seq(1, 5, "one"),
		"added":    seq(6, 10, "two"),
	} {
		if got := f.lines(file); !reflect.DeepEqual(got, want) {
			t.Errorf("%s got %v, want %v", file, got, want)
		}
	}
	testenv.Eventually(t, "the removed receiver's checkpoint entry dropped", func() bool {
		_, ok := f.tracker.Checkpoints()["gone"]
		return !ok
	})
	if cp := f.tracker.Checkpoints()["added"][StreamAll]; cp != 10 {
		t.Errorf("added receiver's checkpoint %d, want 10", cp)
	}
}

// A changed receiver stuck retrying with its old settings takes the new
// ones at once, and the events it held go to the new sink.
func TestReloadCutsRetryShort(t *testing.T) {
	f := startReloadFixture(t, func(f *reloadFixture) *config.Loaded {
		l := f.config(t, "", "r=http://127.0.0.1:1/") // refused: retried forever
		l.Receivers[0].Delivery.InitialBackoff, l.Receivers[0].Delivery.MaxBackoff = time.Hour, time.Hour
		return l
	})
	f.send(1, 3)
	testenv.Eventually(t, "the receiver is retrying", func() bool {
		s, _ := f.e.live.runtime.Status("r")
		return s.Retrying
	})
	if _, err := f.e.Reload(f.config(t, "", "r=fixed")); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, "held events delivered with the new settings", func() bool { return len(f.lines("fixed")) == 3 })
}
