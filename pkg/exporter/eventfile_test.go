package exporter

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/eventide/eventide/pkg/kube/event"
)

func TestReadEvents(t *testing.T) {
	for _, c := range []struct {
		file string
		want []string // name reason owner-label
	}{
		{"recorded.jsonl", []string{"checkout-7d9f-abcde.17a1 BackOff payments", "checkout-7d9f-abcde.17a2 Pulled "}},
		{"kubectl-list.json", []string{"node-7.18c2 NodeNotReady ", "batch-x.18c3 FailedScheduling "}},
		{"dead-letter.jsonl", []string{"api-5c.17b1 OOMKilling web"}},
		{"hand-written.yaml", []string{"readiness.1 Unhealthy cart-team", "dev-backoff.1 BackOff "}},
	} {
		t.Run(c.file, func(t *testing.T) {
			f, err := os.Open(filepath.Join("testdata", "events", c.file))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			var got []string
			err = ReadEvents(f, func(ev *event.EnhancedEvent) error {
				if ev.Event.InvolvedObject != ev.InvolvedObject.ObjectReference {
					t.Errorf("%s: the Event's involvedObject differs from the enriched one", ev.Name)
				}
				got = append(got, ev.Name+" "+ev.Reason+" "+ev.InvolvedObject.Labels["owner"])
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(got, "\n") != strings.Join(c.want, "\n") {
				t.Errorf("read\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(c.want, "\n"))
			}
		})
	}
}

func TestReadEventsRefusesWhatIsNotAnEvent(t *testing.T) {
	for in, want := range map[string]string{
		`{"kind":"Pod","metadata":{"name":"x"}}`:          "document 1: a Pod, not an Event",
		"{\"reason\":\"A\"}\n{\"spec\":{}}":               "document 2: not an event",
		`{"kind":"List","items":[{"reason":"A"},"nope"]}`: "document 1: item 1:",
		"reason: [unclosed":                               "document 1:",
		`"just a string"`:                                 "not an event, a list of events or a dead-letter record",
	} {
		err := ReadEvents(strings.NewReader(in), func(*event.EnhancedEvent) error { return nil })
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", in, err, want)
		}
	}
}

// An events.k8s.io/v1 Event (what the scheduler writes) reads as the API
// server shows it through core/v1, and .Count is the effective count, from
// series.count, in either shape.
func TestReadEventsV1AndEffectiveCount(t *testing.T) {
	const in = `{"apiVersion":"events.k8s.io/v1","kind":"Event","metadata":{"name":"web-1.1","namespace":"shop","uid":"u1"},
"regarding":{"kind":"Pod","namespace":"shop","name":"web-1"},"note":"0/3 nodes are available: 3 Insufficient memory.",
"reason":"FailedScheduling","type":"Warning","reportingController":"default-scheduler","reportingInstance":"s-1",
"eventTime":"2026-11-30T10:00:00.000000Z","series":{"count":5,"lastObservedTime":"2026-11-30T10:04:00.000000Z"},"action":"Scheduling"}
{"apiVersion":"v1","kind":"Event","metadata":{"name":"web-1.2","namespace":"shop"},"involvedObject":{"kind":"Pod","name":"web-1"},"reason":"FailedScheduling","series":{"count":7}}
{"apiVersion":"v1","kind":"Event","metadata":{"name":"web-1.3","namespace":"shop"},"involvedObject":{"kind":"Pod","name":"web-1"},"reason":"Pulled"}
`
	var got []*event.EnhancedEvent
	if err := ReadEvents(strings.NewReader(in), func(ev *event.EnhancedEvent) error { got = append(got, ev); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 {
		t.Fatalf("%d events", len(got))
	}
	v1 := got[0]
	if v1.Count != 5 || v1.Message != "0/3 nodes are available: 3 Insufficient memory." || v1.InvolvedObject.Name != "web-1" ||
		v1.Event.InvolvedObject.Name != "web-1" || v1.ReportingController != "default-scheduler" || v1.Series == nil || v1.UID != "u1" {
		t.Errorf("events.k8s.io/v1 event read as %+v", v1.Event)
	}
	if got[1].Count != 7 || got[2].Count != 1 {
		t.Errorf(".Count %d and %d, want 7 (series.count) and 1 (none given)", got[1].Count, got[2].Count)
	}
	b, _ := v1.ToJSON()
	if !strings.Contains(string(b), `"count":5`) {
		t.Errorf("whole-event JSON without the effective count: %s", b)
	}
}

// A forged record nested thousands of levels deep is refused at once.
func TestReadEventsBoundsNesting(t *testing.T) {
	deep := strings.Repeat(`{"receiver":"r","event":`, 5000) + `{}` + strings.Repeat(`}`, 5000)
	err := ReadEvents(strings.NewReader(deep), func(*event.EnhancedEvent) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "nested more than 64") {
		t.Fatalf("a record nested 5000 deep: %v", err)
	}
	ok := `{"metadata":{"name":"a"},"reason":"R","message":"{[\"}\\\"]]]]","involvedObject":{"kind":"Pod"}}`
	if err := ReadEvents(strings.NewReader(ok), func(*event.EnhancedEvent) error { return nil }); err != nil {
		t.Errorf("brackets inside strings counted as nesting: %v", err)
	}
}
