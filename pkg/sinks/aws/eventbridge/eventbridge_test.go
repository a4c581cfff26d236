package eventbridge

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/eventide/eventide/internal/testenv"
	"github.com/eventide/eventide/internal/testenv/sinktest"
	"github.com/eventide/eventide/pkg/sinks"
)

func mustBuild(t testing.TB, src string) sinks.Sink { return sinktest.MustBuild(t, &Config{}, src) }

func TestEventBridgePutEvents(t *testing.T) {
	f := sinktest.StartAWSFake(t, "events", func(op string, body []byte) (int, string) {
		return 200, `{"FailedEntryCount":0,"Entries":[{"EventId":"1"},{"EventId":"2"}]}`
	})
	s := mustBuild(t, `
eventbridge:
  region: eu-west-1
  endpoint: `+f.URL+`
  eventBusName: k8s-bus
  source: 'eventide.{{ .ClusterName }}'
  detailType: '{{ .Reason }}'
  details:
    message: '{{ .Message }}'
    count: !int '{{ .GetCount }}'
`).(sinks.BatchSink)
	for i, err := range s.SendBatch(context.Background(), testenv.SampleEvents(2)) {
		if err != nil {
			t.Fatalf("entry %d: %v", i, err)
		}
	}
	reqs := f.Requests()
	if len(reqs) != 1 || reqs[0].Operation != "AWSEvents.PutEvents" {
		t.Fatalf("requests %+v", reqs)
	}
	var in struct {
		Entries []struct{ Source, DetailType, Detail, EventBusName string }
	}
	if err := json.Unmarshal(reqs[0].Body, &in); err != nil {
		t.Fatal(err)
	}
	e := in.Entries[0]
	if len(in.Entries) != 2 || e.Source != "eventide.prod-eu-1" || e.DetailType != "BackOff" || e.EventBusName != "k8s-bus" ||
		e.Detail != `{"message":"Back-off restarting failed container \"app\" <x>","count":3}` {
		t.Errorf("PutEvents %s", reqs[0].Body)
	}
	f.SetRespond(func(string, []byte) (int, string) {
		return 400, `{"__type":"ValidationException","message":"bad"}`
	})
	if _, retry, _ := sinks.Classify(s.SendBatch(context.Background(), testenv.SampleEvents(1))[0]); retry {
		t.Error("a ValidationException must not be retried")
	}
	f.SetRespond(func(string, []byte) (int, string) {
		return 400, `{"__type":"ThrottlingException","message":"slow"}`
	})
	if _, retry, _ := sinks.Classify(s.SendBatch(context.Background(), testenv.SampleEvents(1))[0]); !retry {
		t.Error("a ThrottlingException must be retried")
	}
}
