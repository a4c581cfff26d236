package loki

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"gopkg.in/yaml.v3"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/eventide/eventide/internal/testenv"
	"github.com/eventide/eventide/internal/testenv/sinktest"
	"github.com/eventide/eventide/pkg/kube/event"
	"github.com/eventide/eventide/pkg/sinks"
)

func testEvent(ns, name string, at time.Time) *event.EnhancedEvent {
	ev := &event.EnhancedEvent{}
	ev.Name, ev.Namespace, ev.Reason, ev.Type = name, ns, "BackOff", "Warning"
	ev.LastTimestamp = metav1.NewTime(at)
	return ev
}

// One push per batch; streams from the rendered labels; each entry at its
// event's own time (to the nanosecond), in time order within a stream; the
// tenant and credentials sent.
func TestPushStreamsAndTimes(t *testing.T) {
	srv := testenv.NewLokiServer()
	defer srv.Close()
	s := sinktest.MustBuild(t, &Config{}, fmt.Sprintf(`loki:
  url: %s
  tenantID: team-a
  username: loki
  password: s3cret
  streamLabels: {namespace: "{{ .Namespace }}", type: "{{ .Type }}", job: eventide}
  layout: {name: "{{ .Name }}"}
`, srv.URL))
	t0 := time.Date(2026, 11, 29, 10, 0, 0, 123456789, time.UTC)
	errs := sinktest.SendBatch(s, testEvent("shop", "b", t0.Add(time.Second)), testEvent("shop", "a", t0), testEvent("web", "c", t0))
	for i, err := range errs {
		if err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
	}
	entries, headers := srv.Entries()
	got := ""
	for _, e := range entries {
		got += fmt.Sprintf("%s %s %s\n", e.Labels, e.At.Format(time.RFC3339Nano), e.Line)
	}
	want := `{job="eventide", namespace="shop", type="Warning"} 2026-11-29T10:00:00.123456789Z {"name":"a"}
{job="eventide", namespace="shop", type="Warning"} 2026-11-29T10:00:01.123456789Z {"name":"b"}
{job="eventide", namespace="web", type="Warning"} 2026-11-29T10:00:00.123456789Z {"name":"c"}
`
	if got != want {
		t.Errorf("pushed\n%swant\n%s", got, want)
	}
	if len(headers) != 1 || headers[0].Get("X-Scope-OrgID") != "team-a" || headers[0].Get("Authorization") != "Basic bG9raTpzM2NyZXQ=" {
		t.Errorf("%d pushes, headers %v", len(headers), headers)
	}
}

// 429: retried after Loki's Retry-After.
func TestRateLimitedIsRetried(t *testing.T) {
	srv := testenv.NewLokiServer()
	defer srv.Close()
	srv.SetStatus(429)
	s := sinktest.MustBuild(t, &Config{}, fmt.Sprintf("loki: {url: %s, bearerToken: tok}", srv.URL))
	err := sinktest.SendBatch(s, testEvent("shop", "a", time.Now()))[0]
	if class, retry, after := sinks.Classify(err); class != "rate_limited" || !retry || after != time.Second {
		t.Errorf("%v: %s retryable=%v after %v", err, class, retry, after)
	}
	if _, h := srv.Entries(); h[0].Get("Authorization") != "Bearer tok" {
		t.Errorf("authorization %q", h[0].Get("Authorization"))
	}
}

// Labels that would make a stream per object are warned about; too many
// labels and bad names are refused.
func TestLabelChecks(t *testing.T) {
	var logs strings.Builder
	var c Config
	if err := yaml.Unmarshal([]byte(`{url: "http://l", streamLabels: {pod: "{{ .InvolvedObject.Name }}", ns: "{{ .Namespace }}"}}`), &c); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Build("receivers[0].loki", sinks.Deps{Ctx: context.Background(), Log: zerolog.New(&logs)}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), `"label":"pod"`) || strings.Contains(logs.String(), `"label":"ns"`) {
		t.Errorf("warnings: %s", logs.String())
	}
	many := map[string]string{}
	for i := 0; i < 16; i++ {
		many[fmt.Sprintf("l%d", i)] = "x"
	}
	many["bad-name"] = "x"
	c = Config{URL: "http://l", StreamLabels: many}
	_, err := c.Build("receivers[0].loki", sinks.Deps{Ctx: context.Background(), Log: zerolog.Nop()})
	for _, want := range []string{"17 labels, over Loki's limit of 15", "streamLabels.bad-name: not a label name"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v lacks %q", err, want)
		}
	}
}

// BenchmarkSendBatch: pushes of 100 events to the local Loki server
// (in-process: its decoding CPU is in the figure too).
func BenchmarkSendBatch(b *testing.B) {
	srv := testenv.NewLokiServer()
	defer srv.Close()
	s := sinktest.MustBuild(b, &Config{}, fmt.Sprintf("loki: {url: %s, streamLabels: {namespace: '{{ .Namespace }}'}, layout: {name: '{{ .Name }}'}}", srv.URL))
	evs := make([]*event.EnhancedEvent, 100)
	for i := range evs {
		evs[i] = testEvent(fmt.Sprintf("ns%d", i%4), fmt.Sprintf("e%d", i), time.Unix(1764400000+int64(i), 0))
	}
	sinktest.BenchSendBatch(b, s, func(int) []*event.EnhancedEvent { return evs })
}

// Templated headers are rendered per event, and a batch is split by them:
// with X-Scope-OrgID from the namespace, web's event goes to web's tenant,
// not to the tenant of the batch's first event.
func TestHeadersSplitTheBatch(t *testing.T) {
	srv := testenv.NewLokiServer()
	defer srv.Close()
	s := sinktest.MustBuild(t, &Config{}, fmt.Sprintf(`loki:
  url: %s
  headers: {X-Scope-OrgID: "{{ .Namespace }}"}
  streamLabels: {namespace: "{{ .Namespace }}"}
  layout: {name: "{{ .Name }}"}
`, srv.URL))
	t0 := time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)
	for i, err := range sinktest.SendBatch(s, testEvent("shop", "a", t0), testEvent("web", "b", t0), testEvent("shop", "c", t0)) {
		if err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
	}
	entries, headers := srv.Entries()
	if len(headers) != 2 || headers[0].Get("X-Scope-OrgID") != "shop" || headers[1].Get("X-Scope-OrgID") != "web" {
		t.Fatalf("%d pushes with tenants %v, want shop then web", len(headers), headers)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Labels+" "+e.Line)
	}
	want := []string{`{namespace="shop"} {"name":"a"}`, `{namespace="shop"} {"name":"c"}`, `{namespace="web"} {"name":"b"}`}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("pushed, in order:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
