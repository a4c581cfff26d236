package cli

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/eventide/eventide/internal/testenv"
	"github.com/eventide/eventide/pkg/exporter"
	"github.com/eventide/eventide/pkg/kube/event"
	"github.com/eventide/eventide/pkg/sinks"
)

var eventsDir = filepath.Join(testenv.RepoRoot(), "pkg", "exporter", "testdata", "events")

const routesFile = "testdata/routetest/routes.yaml"

// Where every recorded shape goes, with what each receiver would send:
// golden files, one per input.
func TestRouteTestGolden(t *testing.T) {
	t.Setenv("SLACK_TOKEN", "xoxb-never-shown")
	t.Setenv("PAGER_KEY", "pager-key-never-shown")
	for _, f := range []string{"recorded.jsonl", "kubectl-list.json", "dead-letter.jsonl", "hand-written.yaml"} {
		t.Run(f, func(t *testing.T) {
			var out, errOut strings.Builder
			if code := RouteTest(context.Background(), []string{"-conf", routesFile, "-events", filepath.Join(eventsDir, f), "-render"}, nil, &out, &errOut); code != 0 {
				t.Fatalf("exit %d: %s", code, errOut.String())
			}
			for _, secret := range []string{"never-shown", "ZZZ", "abcdef"} {
				if strings.Contains(out.String(), secret) {
					t.Errorf("output shows %q:\n%s", secret, out.String())
				}
			}
			testenv.CheckGolden(t, filepath.Join("routetest", f+".golden"), []byte(out.String()))
		})
	}
}

func TestRouteTestExpect(t *testing.T) {
	list := filepath.Join(eventsDir, "kubectl-list.json") // a NodeNotReady and a FailedScheduling
	for _, c := range []struct {
		expect string
		code   int
	}{
		{"archive,pager", 0},
		{"pager,archive", 0},
		{"archive", 1},
		{"archive,pager,slack", 1},
	} {
		var out, errOut strings.Builder
		if code := RouteTest(context.Background(), []string{"-conf", routesFile, "-events", list, "-expect", c.expect}, nil, &out, &errOut); code != c.code {
			t.Errorf("-expect %s: exit %d, want %d: %s", c.expect, code, c.code, errOut.String())
		}
	}
	// -expect= : the events must go nowhere.
	in := strings.NewReader(`{"metadata":{"name":"x","namespace":"dev-a"},"reason":"Pulled","type":"Normal","involvedObject":{"kind":"Pod"}}`)
	var out, errOut strings.Builder
	if code := RouteTest(context.Background(), []string{"-conf", routesFile, "-expect="}, in, &out, &errOut); code != 1 {
		t.Errorf("-expect= with an archived event: exit %d, want 1", code)
	}
	if !strings.Contains(errOut.String(), "receivers [archive], expected []") {
		t.Errorf("the mismatch is not explained: %s", errOut.String())
	}
}

func TestRouteTestBadInput(t *testing.T) {
	var out, errOut strings.Builder
	code := RouteTest(context.Background(), []string{"-conf", routesFile}, strings.NewReader("{\"reason\":\"A\"}\n{\"kind\":\"Pod\",\"metadata\":{\"name\":\"p\"}}\n"), &out, &errOut)
	if code != 1 || !strings.Contains(errOut.String(), "standard input: document 2: a Pod, not an Event") {
		t.Errorf("exit %d, stderr %q", code, errOut.String())
	}
	if strings.Count(out.String(), "\n") != 1 {
		t.Errorf("the events before the bad one are still printed: %q", out.String())
	}
}

// BenchmarkRouteTest runs testdata/bench.yaml (10 routes, 5 templated
// receivers) over the recorded events: routing alone, and routing plus
// rendering every receiver's payload. bench-classes.yaml is the same
// with routes on classes, presets and a Service: there each event is
// also classified in the loop (the watcher's cost), and pod events carry
// two Services (what enrich.services finds).
func BenchmarkRouteTest(b *testing.B) {
	for _, conf := range []string{"bench.yaml", "bench-classes.yaml"} {
		b.Run(conf, func(b *testing.B) { benchmarkRouteTest(b, conf) })
	}
}

func benchmarkRouteTest(b *testing.B, conf string) {
	b.Setenv("SLACK_TOKEN", "xoxb-bench")
	o, err := loadOffline(context.Background(), filepath.Join("testdata", conf), nil, os.Stderr, true)
	if err != nil {
		b.Fatal(err)
	}
	defer o.loaded.Close()
	classes := o.loaded.Config.Enrich.Services
	var evs []*event.EnhancedEvent
	for _, f := range []string{"recorded.jsonl", "kubectl-list.json", "dead-letter.jsonl", "hand-written.yaml"} {
		fh, err := os.Open(filepath.Join(eventsDir, f))
		if err != nil {
			b.Fatal(err)
		}
		if err := exporter.ReadEvents(fh, func(ev *event.EnhancedEvent) error {
			if classes && ev.InvolvedObject.Kind == "Pod" {
				ev.InvolvedObject.Services = []string{"checkout", "web"}
			}
			evs = append(evs, ev)
			return nil
		}); err != nil {
			b.Fatal(err)
		}
		fh.Close()
	}
	tree := o.loaded.Tree
	dst := make([]string, 0, 8)
	match := func(ev *event.EnhancedEvent) {
		if classes {
			ev.Class, ev.ClassDetail = event.Classify(&ev.Event)
		}
		dst = tree.Match(ev, dst[:0], nil)
	}
	b.Run("route", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			match(evs[i%len(evs)])
			i++
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	})
	b.Run("route+render", func(b *testing.B) {
		b.ReportAllocs()
		i, payloads := 0, 0
		for b.Loop() {
			ev := evs[i%len(evs)]
			match(ev)
			for _, r := range dst {
				if _, err := o.receiver(r).Sink.(sinks.Previewer).Preview(ev); err != nil {
					b.Fatal(err)
				}
				payloads++
			}
			i++
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
		b.ReportMetric(float64(payloads)/float64(b.N), "payloads/event")
	})
}
