package pubsub

import (
	"fmt"
	"strings"
	"testing"

	"cloud.google.com/go/pubsub/v2/pstest"
	"k8s.io/apimachinery/pkg/types"

	"github.com/eventide/eventide/internal/testenv/sinktest"
	"github.com/eventide/eventide/pkg/kube/event"
	"github.com/eventide/eventide/pkg/sinks"
)

// startPubSub runs pstest, Google's official fake, and points the client
// at it as at an emulator.
func startPubSub(t *testing.T) *pstest.Server {
	t.Helper()
	srv := pstest.NewServer()
	t.Cleanup(func() { srv.Close() })
	t.Setenv("PUBSUB_EMULATOR_HOST", srv.Addr)
	return srv
}

func podEvent(name string) *event.EnhancedEvent {
	ev := &event.EnhancedEvent{}
	ev.Name, ev.Namespace, ev.Reason, ev.Type = name, "shop", "BackOff", "Warning"
	ev.InvolvedObject.Kind, ev.InvolvedObject.Name, ev.InvolvedObject.UID = "Pod", "api-1", types.UID("pod-uid")
	return ev
}

// create_topic creates the topic on the first send; every event is one
// message with its attributes and ordering key, in order.
func TestPublishCreatesTopic(t *testing.T) {
	srv := startPubSub(t)
	s := sinktest.MustBuild(t, &Config{}, `pubsub:
  gcloud_project_id: test-project
  topic: k8s-events
  create_topic: true
  orderingKey: "{{ .InvolvedObject.UID }}"
  attributes: {reason: "{{ .Reason }}", type: "{{ .Type }}"}
  layout: {name: "{{ .Name }}"}
`)
	var evs []*event.EnhancedEvent
	for i := 0; i < 5; i++ {
		evs = append(evs, podEvent(fmt.Sprintf("e-%d", i)))
	}
	for i, err := range sinktest.SendBatch(s, evs...) {
		if err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
	}
	msgs := srv.Messages()
	if len(msgs) != 5 {
		t.Fatalf("%d messages, want 5", len(msgs))
	}
	for i, m := range msgs {
		if string(m.Data) != fmt.Sprintf(`{"name":"e-%d"}`, i) || m.Attributes["reason"] != "BackOff" || m.OrderingKey != "pod-uid" {
			t.Errorf("message %d: %s %v %q", i, m.Data, m.Attributes, m.OrderingKey)
		}
	}
}

// Without create_topic, a missing topic is a permanent failure, named.
func TestMissingTopicIsPermanent(t *testing.T) {
	startPubSub(t)
	s := sinktest.MustBuild(t, &Config{}, `pubsub: {gcloud_project_id: test-project, topic: nowhere}`)
	err := sinktest.SendBatch(s, podEvent("x"))[0]
	if class, retry, _ := sinks.Classify(err); class != "rejected" || retry {
		t.Errorf("%v: %s retryable=%v, want a permanent rejection", err, class, retry)
	}
}

// Building needs no credentials and no network: `eventide validate`.
func TestBuildIsOffline(t *testing.T) {
	t.Setenv("PUBSUB_EMULATOR_HOST", "")
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", "/nonexistent")
	if _, err := sinktest.Build(t, &Config{}, `pubsub: {gcloud_project_id: p, topic: t}`); err != nil {
		t.Fatal(err)
	}
	_, err := sinktest.Build(t, &Config{}, `pubsub: {orderingKey: "{{ .Nope", attributes: {a: "{{"}}`)
	for _, want := range []string{"gcloud_project_id: required", "topic: required", "orderingKey", "attributes.a"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v lacks %q", err, want)
		}
	}
}

// BenchmarkSendBatch: batches of 100 events to pstest (in-process: its CPU
// is in the figure too).
func BenchmarkSendBatch(b *testing.B) {
	srv := pstest.NewServer()
	defer srv.Close()
	b.Setenv("PUBSUB_EMULATOR_HOST", srv.Addr)
	s := sinktest.MustBuild(b, &Config{}, `pubsub: {gcloud_project_id: p, topic: t, create_topic: true, layout: {name: "{{ .Name }}"}}`)
	evs := make([]*event.EnhancedEvent, 100)
	for i := range evs {
		evs[i] = podEvent(fmt.Sprintf("e%d", i))
	}
	sinktest.BenchSendBatch(b, s, func(int) []*event.EnhancedEvent { return evs })
}
