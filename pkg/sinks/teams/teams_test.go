package teams

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eventide/eventide/internal/testenv"
	"github.com/eventide/eventide/internal/testenv/sinktest"
	"github.com/eventide/eventide/pkg/sinks"
)

func build(t testing.TB, src string) (sinks.Sink, error) { return sinktest.Build(t, &Config{}, src) }

func mustBuild(t testing.TB, src string) sinks.Sink { return sinktest.MustBuild(t, &Config{}, src) }

// teamsServer records the bodies it gets and answers with answer.
type teamsServer struct {
	*httptest.Server
	mu     sync.Mutex
	bodies []string
	answer func(w http.ResponseWriter)
}

func newTeamsServer(t *testing.T) *teamsServer {
	s := &teamsServer{answer: func(w http.ResponseWriter) { w.WriteHeader(http.StatusAccepted) }}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.bodies = append(s.bodies, string(b))
		answer := s.answer
		s.mu.Unlock()
		answer(w)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *teamsServer) last(t *testing.T) map[string]any {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	var v map[string]any
	if len(s.bodies) == 0 || json.Unmarshal([]byte(s.bodies[len(s.bodies)-1]), &v) != nil {
		t.Fatalf("bodies %q", s.bodies)
	}
	return v
}

func send(t *testing.T, s sinks.Sink) error {
	return s.Send(context.Background(), testenv.SampleEvent())
}

// A Workflows URL gets an Adaptive Card with the title, the message and the
// facts.
func TestTeamsAdaptiveCard(t *testing.T) {
	srv := newTeamsServer(t)
	if err := send(t, mustBuild(t, "teams: {endpoint: "+srv.URL+"/workflows/x, facts: {owner: '{{ .InvolvedObject.Labels.owner }}'}}")); err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(srv.last(t))
	for _, want := range []string{`"contentType":"application/vnd.microsoft.card.adaptive"`, `"type":"AdaptiveCard"`,
		`"text":"BackOff: Pod shop/web-1"`, `"text":"Back-off restarting failed container \"app\" \u003cx\u003e"`,
		`"facts":[{"title":"owner","value":"payments"}]`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("card lacks %s:\n%s", want, b)
		}
	}
}

// A legacy connector gets a MessageCard; its "1" is success, any other
// answer in a 200 is a refusal (the old tool swallowed it).
func TestTeamsMessageCard(t *testing.T) {
	srv := newTeamsServer(t)
	s := mustBuild(t, "teams: {endpoint: "+srv.URL+", format: messagecard, title: 'Warning {{ .Reason }}'}")
	srv.answer = func(w http.ResponseWriter) { _, _ = io.WriteString(w, "1") }
	if err := send(t, s); err != nil {
		t.Fatal(err)
	}
	if c := srv.last(t); c["@type"] != "MessageCard" || c["title"] != "Warning BackOff" || c["themeColor"] != "D9534F" {
		t.Errorf("card %v", c)
	}
	srv.answer = func(w http.ResponseWriter) {
		_, _ = io.WriteString(w, "Webhook message delivery failed with error: Bad payload")
	}
	if class, retryable, _ := sinks.Classify(send(t, s)); class != "rejected" || retryable {
		t.Errorf("refusal classified %q retryable=%v", class, retryable)
	}
	// A 2xx answer over the read limit is not read further: the post was
	// accepted, and sending it again would duplicate it.
	srv.answer = func(w http.ResponseWriter) { _, _ = w.Write(make([]byte, 2<<20)) }
	if err := send(t, s); err != nil {
		t.Errorf("a 200 with a 2 MiB answer: %v, want delivered", err)
	}
}

func TestTeamsFailures(t *testing.T) {
	srv := newTeamsServer(t)
	srv.answer = func(w http.ResponseWriter) {
		w.Header().Set("Retry-After", "3")
		w.WriteHeader(http.StatusTooManyRequests)
	}
	err := send(t, mustBuild(t, "teams: {endpoint: "+srv.URL+"/path/s3cret}"))
	if class, retryable, after := sinks.Classify(err); class != "rate_limited" || !retryable || after != 3*time.Second || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("429: %v (%s, %v, %v)", err, class, retryable, after)
	}
	sinktest.RequireTemplateError(t, mustBuild(t, "teams: {endpoint: "+srv.URL+`, message: '{{ fail "x" }}'}`))
	for _, bad := range []string{"teams: {}", "teams: {endpoint: 'http://teams.example/x'}", "teams: {endpoint: " + srv.URL + ", format: html}"} {
		if _, err := build(t, bad); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

// The old tool's keys: a layout is posted as it is, with templated headers.
func TestTeamsOldLayout(t *testing.T) {
	srv := newTeamsServer(t)
	if err := send(t, mustBuild(t, "teams: {endpoint: "+srv.URL+", headers: {X-Team: '{{ .InvolvedObject.Labels.owner }}'}, layout: {text: '{{ .Message }}'}}")); err != nil {
		t.Fatal(err)
	}
	if c := srv.last(t); len(c) != 1 || !strings.HasPrefix(c["text"].(string), "Back-off") {
		t.Errorf("layout body %v", c)
	}
}
