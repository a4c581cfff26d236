package elasticsearch

import (
	"fmt"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/eventide/eventide/internal/testenv"
	"github.com/eventide/eventide/internal/testenv/sinktest"
	"github.com/eventide/eventide/pkg/kube/event"
	"github.com/eventide/eventide/pkg/sinks"
)

func testEvent(name string, count int32) *event.EnhancedEvent {
	ev := &event.EnhancedEvent{}
	ev.Name, ev.Namespace, ev.UID, ev.Reason, ev.Message, ev.Count = name, "shop", types.UID("uid-"+name), "BackOff", "Back-off", count
	ev.LastTimestamp = metav1.NewTime(time.Date(2026, 11, 28, 23, 0, 0, 0, time.UTC))
	return ev
}

// One _bulk per batch with the official client; the index from the
// event's time; the _id from its UID and occurrence, so a re-send
// overwrites; per-item results: a mapping error is permanent for that
// item only, a 429 item is retried alone.
func TestBulkPerItemResults(t *testing.T) {
	srv := testenv.NewSearchServer()
	defer srv.Close()
	throttled := 0
	srv.Reject = func(src []byte) int {
		switch {
		case strings.Contains(string(src), "poison"):
			return 400
		case strings.Contains(string(src), "busy") && throttled == 0:
			throttled++
			return 429
		}
		return 0
	}
	s := sinktest.MustBuild(t, &Config{}, fmt.Sprintf(`elasticsearch:
  hosts: [%s]
  username: elastic
  password: changeme
  indexFormat: "kube-events-{2006-01-02}"
  layout:
    name: "{{ .Name }}"
    count: !int "{{ .GetCount }}"
`, srv.URL))
	errs := sinktest.SendBatch(s, testEvent("ok", 1), testEvent("poison", 1), testEvent("busy", 1), testEvent("ok", 2))
	if errs[0] != nil || errs[3] != nil {
		t.Errorf("accepted items failed: %v", errs)
	}
	if class, retry, _ := sinks.Classify(errs[1]); class != "rejected" || retry || !strings.Contains(errs[1].Error(), "mapper_parsing_exception") {
		t.Errorf("mapping error: %v (%s, retryable=%v), want a permanent rejection naming it", errs[1], class, retry)
	}
	if class, retry, _ := sinks.Classify(errs[2]); class != "rate_limited" || !retry {
		t.Errorf("429 item: %v (%s, retryable=%v)", errs[2], class, retry)
	}
	if errs := sinktest.SendBatch(s, testEvent("busy", 1), testEvent("ok", 2)); errs[0] != nil || errs[1] != nil {
		t.Errorf("retry: %v", errs)
	}
	keys, docs := srv.Docs()
	want := []string{"kube-events-2026-11-28/uid-ok-1", "kube-events-2026-11-28/uid-ok-2", "kube-events-2026-11-28/uid-busy-1"}
	if strings.Join(keys, " ") != strings.Join(want, " ") {
		t.Errorf("documents %v, want %v (a re-send overwrites)", keys, want)
	}
	if string(docs[want[1]]) != `{"name":"ok","count":2}` {
		t.Errorf("document %s", docs[want[1]])
	}
	n, auth := srv.Bulks()
	if n != 2 || !strings.HasPrefix(auth[0], "Basic ") {
		t.Errorf("%d _bulk requests, auth %q: want 2, with basic auth", n, auth)
	}
}

// Data streams take op_type create: a document already there (a re-send
// after a crash) is a 409, and counts as delivered.
func TestCreateConflictIsDelivered(t *testing.T) {
	srv := testenv.NewSearchServer()
	defer srv.Close()
	s := sinktest.MustBuild(t, &Config{}, fmt.Sprintf("elasticsearch: {hosts: [%s], index: logs-k8s-events, opType: create, apiKey: a2V5OnNlY3JldA==, headers: {X-Team: platform}}", srv.URL))
	for i := 0; i < 2; i++ {
		if errs := sinktest.SendBatch(s, testEvent("once", 1)); errs[0] != nil {
			t.Fatalf("send %d: %v", i, errs[0])
		}
	}
	if keys, _ := srv.Docs(); len(keys) != 1 {
		t.Errorf("documents %v", keys)
	}
	if _, auth := srv.Bulks(); auth[0] != "APIKey a2V5OnNlY3JldA==" {
		t.Errorf("authorization %q", auth[0])
	}
}

func TestUseEventIDOverwrites(t *testing.T) {
	srv := testenv.NewSearchServer()
	defer srv.Close()
	s := sinktest.MustBuild(t, &Config{}, fmt.Sprintf("elasticsearch: {hosts: [%s], index: kube-events, useEventID: true}", srv.URL))
	sinktest.SendBatch(s, testEvent("e", 1), testEvent("e", 2))
	if keys, _ := srv.Docs(); len(keys) != 1 || keys[0] != "kube-events/uid-e" {
		t.Errorf("documents %v, want one per event UID", keys)
	}
}

func TestConfigErrors(t *testing.T) {
	_, err := sinktest.Build(t, &Config{}, `elasticsearch: {opType: upsert, batchSize: -1, indexFormat: "x-{2006"}`)
	for _, want := range []string{"hosts: required", `opType: "upsert"`, "batchSize: -1", "{ without }"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v lacks %q", err, want)
		}
	}
}

// A server down: retried, and the error shows no credentials.
func TestServerDown(t *testing.T) {
	s := sinktest.MustBuild(t, &Config{}, "elasticsearch: {hosts: ['http://elastic:hunter2@127.0.0.1:1'], index: x}")
	err := sinktest.SendBatch(s, testEvent("a", 1))[0]
	if class, retry, _ := sinks.Classify(err); !retry || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("%v (%s, retryable=%v)", err, class, retry)
	}
}

// BenchmarkSendBatch: _bulk requests of 100 events to the local search
// server (in-process: its CPU is in the figure too).
func BenchmarkSendBatch(b *testing.B) {
	srv := testenv.NewSearchServer()
	defer srv.Close()
	s := sinktest.MustBuild(b, &Config{}, fmt.Sprintf("elasticsearch: {hosts: [%s], indexFormat: 'kube-{2006-01-02}', layout: {name: '{{ .Name }}', reason: '{{ .Reason }}'}}", srv.URL))
	evs := make([]*event.EnhancedEvent, 100)
	for i := range evs {
		evs[i] = testEvent(fmt.Sprintf("e%d", i), int32(i+1))
	}
	sinktest.BenchSendBatch(b, s, func(int) []*event.EnhancedEvent { return evs })
}

// A _bulk answer that cannot be matched to the documents sent counts as
// delivered for none of them: each is a retryable failure. A redirect is
// its own class.
func TestBulkAnswersThatDoNotAddUp(t *testing.T) {
	for _, c := range []struct {
		status       int
		answer, want string
		retryable    bool
	}{
		{200, `{"errors":false,"items":[{},{}]}`, "other", true},
		{200, `{"errors":false,"items":[{"delete":{"status":200}},{"index":{"status":201}}]}`, "other", true},
		{200, `{"errors":false,"items":[{"index":{}},{"index":{"status":201}}]}`, "other", true},
		{200, `{"errors":false,"items":[{"index":{"status":201}}]}`, "other", true},
		{307, `{}`, "redirect", false},
	} {
		srv := testenv.NewSearchServer()
		srv.BulkStatus, srv.BulkAnswer = c.status, c.answer
		s := sinktest.MustBuild(t, &Config{}, fmt.Sprintf(`elasticsearch: {hosts: [%s], index: kube-events}`, srv.URL))
		errs := sinktest.SendBatch(s, testEvent("a", 1), testEvent("b", 1))
		srv.Close()
		if class, retry, _ := sinks.Classify(errs[0]); string(class) != c.want || retry != c.retryable {
			t.Errorf("%d %s: first item %v (%s, retryable=%v), want %s", c.status, c.answer, errs[0], class, retry, c.want)
		}
	}
}
