package sinks

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// opsgenieServer answers the alert API as Opsgenie does (202 with a
// request id) and records what the real SDK sent.
type opsgenieServer struct {
	*httptest.Server
	mu     sync.Mutex
	bodies []map[string]any
	auth   []string
	status int
}

func newOpsgenieServer(t *testing.T) *opsgenieServer {
	s := &opsgenieServer{status: http.StatusAccepted}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		if r.Method != http.MethodPost || r.URL.Path != "/v2/alerts" {
			http.Error(w, "unexpected "+r.Method+" "+r.URL.Path, http.StatusNotFound)
			return
		}
		if s.status != http.StatusAccepted {
			w.WriteHeader(s.status)
			_, _ = io.WriteString(w, `{"message":"failing on purpose","took":0.001,"requestId":"r-1"}`)
			return
		}
		var body map[string]any
		b, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(b, &body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		s.bodies = append(s.bodies, body)
		s.auth = append(s.auth, r.Header.Get("Authorization"))
		w.WriteHeader(http.StatusAccepted)
		_, _ = io.WriteString(w, `{"result":"Request will be processed","took":0.1,"requestId":"43a29c5c-3dbf-4fa4-9c26-f4f71023e120"}`)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *opsgenieServer) host() string { return strings.TrimPrefix(s.URL, "http://") }

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
	s := mustBuild(t, strings.Replace(opsgenieTestConfig, "%s", srv.host(), 1))
	ev := sampleEvent()
	if err := s.Send(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	ev.Count = 4 // a repeat of the same event
	if err := s.Send(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if len(srv.bodies) != 2 || srv.auth[0] != "GenieKey og-test-key" {
		t.Fatalf("%d alerts, auth %v", len(srv.bodies), srv.auth)
	}
	if srv.bodies[0]["alias"] != srv.bodies[1]["alias"] || srv.bodies[0]["alias"] != "Pod/shop/web-1/BackOff" {
		t.Errorf("a repeat must carry the same alias (one alert): %v / %v", srv.bodies[0]["alias"], srv.bodies[1]["alias"])
	}
	got, _ := json.MarshalIndent(srv.bodies[0], "", "  ")
	golden := filepath.Join("testdata", "opsgenie-alert.golden.json")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Errorf("alert differs from %s:\n%s", golden, got)
	}
}

func TestOpsgenieTruncatesAndDefaults(t *testing.T) {
	srv := newOpsgenieServer(t)
	s := mustBuild(t, "opsgenie: {apiKey: k, URL: "+srv.host()+", priority: 'urgent', message: '{{ .Message }}', tags: ['"+strings.Repeat("t", 80)+"']}")
	ev := sampleEvent()
	ev.Message = strings.Repeat("m", 500)
	if err := s.Send(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	srv.mu.Lock()
	defer srv.mu.Unlock()
	b := srv.bodies[0]
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
	s := mustBuild(t, "opsgenie: {apiKey: k, URL: "+srv.host()+"}")
	for code, retryable := range map[int]bool{429: true, 500: true, 503: true, 401: false, 422: false} {
		srv.mu.Lock()
		srv.status = code
		srv.mu.Unlock()
		if _, retry, _ := Classify(s.Send(context.Background(), sampleEvent())); retry != retryable {
			t.Errorf("HTTP %d: retryable %v", code, retry)
		}
	}
	srv.mu.Lock()
	n := len(srv.bodies)
	srv.mu.Unlock()
	if n != 0 {
		t.Errorf("the SDK retried on its own or recorded failures: %d", n)
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
