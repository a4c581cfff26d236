package prometheus

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
	"gopkg.in/yaml.v3"
	"k8s.io/apimachinery/pkg/types"

	"github.com/eventide/eventide/internal/testenv"
	"github.com/eventide/eventide/pkg/kube/event"
	"github.com/eventide/eventide/pkg/sinks"
	"github.com/eventide/eventide/pkg/sinks/prometheus/series"
)

// scrape is the hub's metrics as text lines, sorted (comments left out).
func scrape(t testing.TB, hub *series.Hub) []string {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(hub)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, mf := range mfs {
		if _, err := expfmt.MetricFamilyToText(&b, mf); err != nil {
			t.Fatal(err)
		}
	}
	var lines []string
	for _, l := range strings.Split(b.String(), "\n") {
		if l != "" && !strings.HasPrefix(l, "#") {
			lines = append(lines, l)
		}
	}
	sort.Strings(lines)
	return lines
}

func build(t testing.TB, hub *series.Hub, name, src string) (sinks.Sink, error) {
	return buildFrom(t, &Config{}, src, sinks.Deps{Receiver: name, EventMetrics: hub})
}

// occurrence is ev's Event object uid at count n, in namespace ns.
func occurrence(uid, ns, reason string, n int32) *event.EnhancedEvent {
	ev := testenv.SampleEvent()
	ev.UID, ev.Namespace, ev.InvolvedObject.Namespace, ev.Reason, ev.Count = types.UID(uid), ns, ns, reason, n
	return ev
}

func send(t testing.TB, s sinks.Sink, evs ...*event.EnhancedEvent) {
	t.Helper()
	for _, ev := range evs {
		if err := s.Send(context.Background(), ev); err != nil {
			t.Fatal(err)
		}
	}
}

// Occurrences, not watch updates: a first sighting counts 1, an update
// its count's increase, a re-sent or older update nothing.
func TestCountsOccurrences(t *testing.T) {
	hub := series.NewHub()
	s, err := build(t, hub, "m", `{name: kube_events_total, labels: [namespace, reason, labels.app.kubernetes.io/name]}`)
	if err != nil {
		t.Fatal(err)
	}
	send(t, s, occurrence("a", "shop", "BackOff", 1), occurrence("a", "shop", "BackOff", 4), occurrence("a", "shop", "BackOff", 4),
		occurrence("a", "shop", "BackOff", 3), occurrence("b", "shop", "BackOff", 7), occurrence("c", "web", "Failed", 1))
	want := []string{
		`eventide_event_metric_overflow_total{metric="kube_events_total"} 0`,
		`eventide_event_metric_series{metric="kube_events_total"} 2`,
		`kube_events_total{label_app_kubernetes_io_name="web",namespace="shop",reason="BackOff"} 5`,
		`kube_events_total{label_app_kubernetes_io_name="web",namespace="web",reason="Failed"} 1`,
	}
	if got := scrape(t, hub); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("metrics:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// Past maxSeries, new label sets are counted in one "other" series (and
// the overflow counter); series already there go on.
func TestMaxSeries(t *testing.T) {
	hub := series.NewHub()
	s, err := build(t, hub, "m", `{name: kube_events_total, labels: [namespace], maxSeries: 2}`)
	if err != nil {
		t.Fatal(err)
	}
	send(t, s, occurrence("1", "a", "R", 1), occurrence("2", "b", "R", 1), occurrence("3", "c", "R", 1), occurrence("4", "d", "R", 2),
		occurrence("5", "a", "R", 1))
	want := []string{
		`eventide_event_metric_overflow_total{metric="kube_events_total"} 2`,
		`eventide_event_metric_series{metric="kube_events_total"} 3`,
		`kube_events_total{namespace="a"} 2`,
		`kube_events_total{namespace="b"} 1`,
		`kube_events_total{namespace="other"} 2`,
	}
	if got := scrape(t, hub); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("metrics:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// A series with no occurrence for expireAfter is gone from the next
// scrape; one still counting stays.
func TestExpiry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		hub := series.NewHub()
		s, err := build(t, hub, "m", `{name: kube_events_total, labels: [namespace], expireAfter: 1h}`)
		if err != nil {
			t.Fatal(err)
		}
		send(t, s, occurrence("1", "quiet", "R", 1), occurrence("2", "busy", "R", 1))
		time.Sleep(50 * time.Minute) // the fake clock
		send(t, s, occurrence("2", "busy", "R", 2))
		time.Sleep(20 * time.Minute)
		want := []string{
			`eventide_event_metric_overflow_total{metric="kube_events_total"} 0`,
			`eventide_event_metric_series{metric="kube_events_total"} 1`,
			`kube_events_total{namespace="busy"} 2`,
		}
		if got := scrape(t, hub); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("metrics after 70 min:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	})
}

// A reload that rebuilds the receiver with the same name and labels keeps
// the series, their values and the occurrence memory; other labels start
// a new metric; a receiver removed takes its metric off /metrics.
func TestReloadKeepsSeries(t *testing.T) {
	hub := series.NewHub()
	old, _ := build(t, hub, "m", `{name: kube_events_total, labels: [namespace]}`)
	send(t, old, occurrence("a", "shop", "R", 2))
	kept, err := build(t, hub, "m", `{name: kube_events_total, labels: [namespace], maxSeries: 10}`)
	if err != nil {
		t.Fatal(err)
	}
	old.Close()
	send(t, kept, occurrence("a", "shop", "R", 3)) // +1, not a first sighting
	if got := scrape(t, hub); !strings.Contains(strings.Join(got, "\n"), `kube_events_total{namespace="shop"} 2`) {
		t.Errorf("after the reload: %v", got)
	}
	relabelled, _ := build(t, hub, "m", `{name: kube_events_total, labels: [reason]}`)
	kept.Close()
	send(t, relabelled, occurrence("z", "shop", "R", 1))
	if got := strings.Join(scrape(t, hub), "\n"); !strings.Contains(got, `kube_events_total{reason="R"} 1`) || strings.Contains(got, "namespace=") {
		t.Errorf("new labels: %s", got)
	}
	relabelled.Close()
	if got := scrape(t, hub); len(got) != 0 {
		t.Errorf("after the receiver went: %v", got)
	}
}

func TestBuildErrors(t *testing.T) {
	for src, want := range map[string]string{
		`{name: kube-events, labels: [reason]}`:                                 `must match`,
		`{name: kube_events, labels: [reason]}`:                                 `must end in _total`,
		`{name: kube_events_total}`:                                             `labels: at least one`,
		`{name: kube_events_total, labels: [reasons]}`:                          `"reasons" is no event field`,
		`{name: kube_events_total, labels: [name]}`:                             `name is refused as a label: the object's name makes a series per pod`,
		`{name: kube_events_total, labels: [labels.app.name, labels.app_name]}`: `labels.app.name and labels.app_name are both the label label_app_name`,
		`{name: kube_events_total, labels: [reason], maxSeries: 1000000}`:       `maxSeries: 1000000 is not between`,
		`{name: kube_events_total, labels: [reason], expireAfter: 10s}`:         `expireAfter: 10s is under a minute`,
	} {
		if _, err := build(t, nil, "m", src); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %s", src, err, want)
		}
	}
	if _, err := build(t, nil, "m", `{name: kube_events_total, labels: [name], allowHighCardinality: true}`); err != nil {
		t.Errorf("allowHighCardinality: %v", err)
	}
}

// BenchmarkSend: occurrences of 1000 Event objects (each repeated) into a
// counter with 5 labels over 100 label sets.
func BenchmarkSend(b *testing.B) {
	hub := series.NewHub()
	s, err := build(b, hub, "m", `{name: kube_events_total, labels: [namespace, reason, type, kind, workload]}`)
	if err != nil {
		b.Fatal(err)
	}
	evs := make([]*event.EnhancedEvent, 1000)
	for i := range evs {
		evs[i] = occurrence(fmt.Sprintf("uid-%d", i), fmt.Sprintf("ns-%d", i%20), fmt.Sprintf("R%d", i%5), 1)
	}
	cpu := testenv.StartCPU()
	n := 0
	for i := 0; b.Loop(); i++ {
		ev := evs[i%len(evs)]
		ev.Count++
		if err := s.Send(context.Background(), ev); err != nil {
			b.Fatal(err)
		}
		n++
	}
	cpu.Report(b, n)
}

func buildFrom(t testing.TB, c *Config, src string, deps sinks.Deps) (sinks.Sink, error) {
	t.Helper()
	if err := yaml.Unmarshal([]byte(src), c); err != nil {
		t.Fatal(err)
	}
	return c.Build("receivers[0].prometheus", deps)
}
