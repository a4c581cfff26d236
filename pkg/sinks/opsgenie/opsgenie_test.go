package opsgenie

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/eventide/eventide/internal/testenv"
	"github.com/eventide/eventide/internal/testenv/sinktest"
	"github.com/eventide/eventide/pkg/kube/event"
	"github.com/eventide/eventide/pkg/sinks"
)

func mustBuild(t testing.TB, src string) sinks.Sink { return sinktest.MustBuild(t, &Config{}, src) }

func newOpsgenieServer(t *testing.T) *testenv.OpsgenieServer {
	s := testenv.NewOpsgenieServer()
	t.Cleanup(s.Close)
	return s
}

const opsgenieTestConfig = `
opsgenie:
  apiKey: og-test-key
  URL: %s
  priority: '{{ if eq .Reason "OOMKilling" }}P2{{ else }}P3{{ end }}'
  description: '{{ .Message }}'
  tags: [eventide, '{{ .ClusterName }}', '']
  details:
    owner: '{{ .InvolvedObject.Labels.owner }}'
    count: '{{ .GetCount }}'
  responders:
    - {type: team, name: payments}
  entity: '{{ .InvolvedObject.Namespace }}/{{ .InvolvedObject.Name }}'
`

func TestOpsgenieAlertWireFormat(t *testing.T) {
	srv := newOpsgenieServer(t)
	s := mustBuild(t, strings.Replace(opsgenieTestConfig, "%s", srv.Host(), 1))
	ev := testenv.SampleEvent()
	if err := s.Send(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	ev.Count = 4 // a repeat of the same event
	if err := s.Send(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	bodies, auth := srv.Alerts()
	if len(bodies) != 2 || auth[0] != "GenieKey og-test-key" {
		t.Fatalf("%d alerts, auth %v", len(bodies), auth)
	}
	if bodies[0]["alias"] != bodies[1]["alias"] || bodies[0]["alias"] != "Pod/shop/web-1/BackOff" {
		t.Errorf("a repeat must carry the same alias (one alert): %v / %v", bodies[0]["alias"], bodies[1]["alias"])
	}
	got, _ := json.MarshalIndent(bodies[0], "", "  ")
	testenv.CheckGolden(t, "opsgenie-alert.golden.json", got)
}

func TestOpsgenieTruncatesAndDefaults(t *testing.T) {
	srv := newOpsgenieServer(t)
	s := mustBuild(t, "opsgenie: {apiKey: k, URL: "+srv.Host()+", priority: 'urgent', message: '{{ .Message }}', tags: ['"+strings.Repeat("t", 80)+"']}")
	ev := testenv.SampleEvent()
	ev.Message = strings.Repeat("m", 500)
	if err := s.Send(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	bodies, _ := srv.Alerts()
	b := bodies[0]
	if n := len([]rune(b["message"].(string))); n != ogMaxMessage {
		t.Errorf("message of %d runes, want cut to %d", n, ogMaxMessage)
	}
	if b["priority"] != "P3" {
		t.Errorf("priority %v: an invalid one falls back to P3", b["priority"])
	}
	if tag := b["tags"].([]any)[0].(string); len([]rune(tag)) != ogMaxTagLen {
		t.Errorf("tag of %d runes", len([]rune(tag)))
	}
}

func TestOpsgenieFailures(t *testing.T) {
	srv := newOpsgenieServer(t)
	s := mustBuild(t, "opsgenie: {apiKey: k, URL: "+srv.Host()+"}")
	for code, retryable := range map[int]bool{429: true, 500: true, 503: true, 401: false, 422: false} {
		srv.SetStatus(code)
		if _, retry, _ := sinks.Classify(s.Send(context.Background(), testenv.SampleEvent())); retry != retryable {
			t.Errorf("HTTP %d: retryable %v", code, retry)
		}
	}
	if bodies, _ := srv.Alerts(); len(bodies) != 0 {
		t.Errorf("the SDK retried on its own or recorded failures: %d", len(bodies))
	}
}

func TestOpsgenieURL(t *testing.T) {
	for in, want := range map[string]string{
		"":                             "api.opsgenie.com",
		"https://api.eu.opsgenie.com/": "api.eu.opsgenie.com",
		"api.opsgenie.com":             "api.opsgenie.com",
		"127.0.0.1:8080":               "127.0.0.1:8080",
		"opsgenie.example.com":         "",
		"https://api.opsgenie.com/v2":  "",
	} {
		got, err := opsgenieHost(in)
		if (want == "") != (err != nil) || got != want {
			t.Errorf("%q: %q, %v", in, got, err)
		}
	}
}

func TestOpsgenieTemplateErrorIsNotRetried(t *testing.T) {
	srv := newOpsgenieServer(t)
	for _, key := range []string{"message", "alias", "priority", "details: {team"} {
		t.Run(key, func(t *testing.T) {
			cfg := "opsgenie: {apiKey: k, URL: " + srv.Host() + ", " + key + `: '{{ fail "broken" }}'`
			if strings.HasPrefix(key, "details") {
				cfg += "}"
			}
			sinktest.RequireTemplateError(t, mustBuild(t, cfg+"}"))
		})
	}
}

// A group's notifications go to one alert: posted with the group's count
// in its details, then created again with the same alias (Opsgenie counts
// the occurrence) and its details updated by alias, escaped in the path.
func TestOpsgenieGroupUpdatesOneAlert(t *testing.T) {
	srv := newOpsgenieServer(t)
	s := mustBuild(t, strings.Replace(opsgenieTestConfig, "%s", srv.Host(), 1)+"  alias: '{{ .Reason }}-{{ .InvolvedObject.Name }}'\n").(sinks.Updater)
	ev := testenv.SampleEvent()
	ev.Group = &event.Group{Key: "k", Status: "new", Count: 1, LastSeen: time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)}
	ref, err := s.Post(context.Background(), ev)
	if err != nil || ref != "BackOff-web-1" {
		t.Fatalf("post: %q %v", ref, err)
	}
	ev.Group = &event.Group{Key: "k", Status: "update", Count: 14, LastSeen: time.Date(2026, 11, 29, 10, 5, 0, 0, time.UTC)}
	if err := s.Update(context.Background(), ref, ev); err != nil {
		t.Fatal(err)
	}
	bodies, _ := srv.Alerts()
	if len(bodies) != 2 || bodies[1]["alias"] != ref || bodies[0]["details"].(map[string]any)["groupCount"] != "1" {
		t.Fatalf("alerts %v", bodies)
	}
	d := srv.Details()
	if len(d) != 1 || d[0].Alias != ref || d[0].Body["details"].(map[string]any)["groupCount"] != "14" ||
		d[0].Body["details"].(map[string]any)["lastSeen"] != "2026-11-29T10:05:00Z" {
		t.Errorf("details %+v", d)
	}
	ev.Group.Status = "quiet"
	if err := s.Update(context.Background(), ref, ev); err != nil {
		t.Fatal(err)
	}
	if bodies, _ := srv.Alerts(); len(bodies) != 2 || len(srv.Details()) != 2 {
		t.Errorf("quiet: %d creates (want no new one), %d detail updates", len(bodies), len(srv.Details()))
	}
}
