package kinesis

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/eventide/eventide/internal/testenv"
	"github.com/eventide/eventide/internal/testenv/sinktest"
	"github.com/eventide/eventide/pkg/kube/event"
	"github.com/eventide/eventide/pkg/sinks"
)

func build(t testing.TB, src string) (sinks.Sink, error) {
	return sinktest.Build(t, &Config{}, src)
}

func mustBuild(t testing.TB, src string) sinks.Sink { return sinktest.MustBuild(t, &Config{}, src) }

func startKinesisStream(t *testing.T, stream string) string {
	t.Helper()
	testenv.Outside(t, "kinesis-local under node")
	srv, err := testenv.StartKinesis(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	if err := testenv.CreateKinesisStream(context.Background(), srv.URL, stream); err != nil {
		t.Fatal(err)
	}
	return srv.URL
}

func TestKinesisPutsMetricRecords(t *testing.T) {
	testenv.SetAWSTestEnv(t)
	endpoint := startKinesisStream(t, "k8s-events")
	s := mustBuild(t, `
kinesis:
  streamName: k8s-events
  region: us-east-1
  endpoint: `+endpoint+`
  partitionKey: "{{ .InvolvedObject.Namespace }}/{{ .InvolvedObject.Name }}"
  layout:
    metric: kube_event
    value: !int "{{ .GetCount }}"
    dimensions:
      reason: "{{ .Reason }}"
      owner: "{{ .InvolvedObject.Labels.owner }}"
`)
	bs := s.(sinks.BatchSink)
	var evs []*event.EnhancedEvent
	for i := 0; i < 3; i++ {
		ev := testenv.SampleEvent()
		ev.Count = int32(i + 1)
		evs = append(evs, ev)
	}
	bad := testenv.SampleEvent()
	bad.InvolvedObject.Workload = nil
	evs = append(evs, bad)
	// A broken template fails only its own event; the others are put.
	broken := mustBuild(t, "kinesis: {streamName: k8s-events, region: us-east-1, endpoint: "+endpoint+", layout: {w: '{{ .InvolvedObject.Workload.Name }}'}}").(sinks.BatchSink)
	errs := broken.SendBatch(context.Background(), evs)
	if errs[0] != nil || errs[3] == nil || !sinks.IsTemplateError(errs[3]) {
		t.Fatalf("per-event errors %v", errs)
	}
	for i, err := range bs.SendBatch(context.Background(), evs[:3]) {
		if err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
	}
	recs, err := testenv.ReadKinesis(context.Background(), endpoint, "k8s-events", 6)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 6 {
		t.Fatalf("%d records in the stream, want 6", len(recs))
	}
	for i, r := range recs[3:] {
		want := fmt.Sprintf(`{"metric":"kube_event","value":%d,"dimensions":{"reason":"BackOff","owner":"payments"}}`, i+1)
		if string(r.Data) != want || aws.ToString(r.PartitionKey) != "shop/web-1" {
			t.Errorf("record %d: %s key %s", i, r.Data, aws.ToString(r.PartitionKey))
		}
	}
}

func TestKinesisMissingStreamIsPermanent(t *testing.T) {
	testenv.SetAWSTestEnv(t)
	endpoint := startKinesisStream(t, "other")
	s := mustBuild(t, "kinesis: {streamName: nope, region: us-east-1, endpoint: "+endpoint+"}")
	err := s.Send(context.Background(), testenv.SampleEvent())
	if class, retry, _ := sinks.Classify(err); err == nil || retry {
		t.Errorf("missing stream: %v (%s, retryable %v)", err, class, retry)
	}
}

func TestKinesisConfigErrors(t *testing.T) {
	testenv.SetAWSTestEnv(t)
	_, err := build(t, "kinesis: {endpoint: 'not a url', partitionKey: '{{ .Nope '}")
	for _, want := range []string{"receivers[0].kinesis.streamName: required", "receivers[0].kinesis.partitionKey:",
		"receivers[0].kinesis.region: required", `receivers[0].kinesis.endpoint: not an http(s) URL`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v lacks %q", err, want)
		}
	}
}
