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
