package webhook

import (
	"context"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eventide/eventide/internal/testenv"
	"github.com/eventide/eventide/internal/testenv/sinktest"
	"github.com/eventide/eventide/pkg/kube/event"
	"github.com/eventide/eventide/pkg/sinks"
)

func build(t testing.TB, src string) (sinks.Sink, error) {
	return sinktest.Build(t, &Config{}, src)
}

func mustBuild(t testing.TB, src string) sinks.Sink { return sinktest.MustBuild(t, &Config{}, src) }

func TestWebhookSendsLayoutAndHeaders(t *testing.T) {
	var (
		mu   sync.Mutex
		body string
		hdr  http.Header
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		body, hdr = string(b), r.Header.Clone()
		mu.Unlock()
	}))
	defer srv.Close()
	s := mustBuild(t, `
webhook:
  endpoint: `+srv.URL+`/hook
  headers:
    X-Owner: "{{ .InvolvedObject.Labels.owner }}"
  layout:
    reason: "{{ .Reason }}"
    count: !int "{{ .Count }}"
`)
	if err := s.Send(context.Background(), testenv.SampleEvent()); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if body != `{"reason":"BackOff","count":3}` || hdr.Get("X-Owner") != "payments" || hdr.Get("Content-Type") != "application/json" {
		t.Errorf("body %s headers %v", body, hdr)
	}
}

func TestWebhookClassifiesFailures(t *testing.T) {
	code := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "2")
		http.Error(w, "nope", code)
	}))
	defer srv.Close()
	s := mustBuild(t, "webhook: {endpoint: "+srv.URL+"}")
	for c, wantRetry := range map[int]bool{400: false, 401: false, 429: true, 500: true, 503: true} {
		code = c
		_, retry, _ := sinks.Classify(s.Send(context.Background(), testenv.SampleEvent()))
		if retry != wantRetry {
			t.Errorf("HTTP %d: retryable %v", c, retry)
		}
	}
	srv.Close()
	if class, retry, _ := sinks.Classify(s.Send(context.Background(), testenv.SampleEvent())); class != "network" || !retry {
		t.Errorf("connection refused: %s %v", class, retry)
	}
}

func TestWebhookVerifiesTLSByDefault(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer srv.Close()
	s := mustBuild(t, "webhook: {endpoint: "+srv.URL+"}")
	if err := s.Send(context.Background(), testenv.SampleEvent()); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("unverified TLS accepted: %v", err)
	}
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	s = mustBuild(t, "webhook: {endpoint: "+srv.URL+", tls: {caFile: "+ca+"}}")
	if err := s.Send(context.Background(), testenv.SampleEvent()); err != nil {
		t.Fatalf("with caFile: %v", err)
	}
}

func TestWebhookConfigErrors(t *testing.T) {
	_, err := build(t, "webhook: {endpoint: 'ftp://x', method: GET, tls: {caFile: /nonexistent, certFile: a}}")
	for _, want := range []string{
		`receivers[0].webhook.endpoint: not an http(s) URL`,
		`receivers[0].webhook.method: "GET"`,
		`receivers[0].webhook.tls.caFile: open /nonexistent`,
		`receivers[0].webhook.tls: certFile and keyFile go together`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v lacks %q", err, want)
		}
	}
}

func TestWebhookHeaderTemplateErrorIsNotRetried(t *testing.T) {
	sinktest.RequireTemplateError(t, mustBuild(t, `webhook: {endpoint: "http://127.0.0.1:1/", headers: {X-Team: '{{ fail "no team" }}'}}`))
}

// A 429 or 503 passes the server's Retry-After on to the retry loop, in both
// of its forms: seconds and an HTTP date.
func TestWebhookPassesRetryAfterOn(t *testing.T) {
	for _, tc := range []struct {
		name, header string
		status       int
		min, max     time.Duration
	}{
		{"seconds", "7", http.StatusTooManyRequests, 7 * time.Second, 7 * time.Second},
		{"HTTP date", time.Now().Add(30 * time.Second).UTC().Format(http.TimeFormat), http.StatusServiceUnavailable, 25 * time.Second, 30 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Retry-After", tc.header)
				w.WriteHeader(tc.status)
			}))
			defer srv.Close()
			err := mustBuild(t, "webhook: {endpoint: "+srv.URL+"}").Send(context.Background(), testenv.SampleEvent())
			_, retryable, after := sinks.Classify(err)
			if !retryable || after < tc.min || after > tc.max {
				t.Errorf("%v: retryable=%v after %v, want within [%v, %v]", err, retryable, after, tc.min, tc.max)
			}
		})
	}
}

// A redirect is not followed (it would turn the POST into a GET and lose
// the event): it is a permanent failure naming where it pointed, without
// the path or query that may hold a token.
func TestWebhookDoesNotFollowRedirects(t *testing.T) {
	var gets int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			gets++
			return
		}
		http.Redirect(w, r, "/moved?token=s3cret", http.StatusFound)
	}))
	defer srv.Close()
	err := mustBuild(t, "webhook: {endpoint: "+srv.URL+"}").Send(context.Background(), testenv.SampleEvent())
	class, retryable, _ := sinks.Classify(err)
	if class != "redirect" || retryable || !strings.Contains(err.Error(), srv.URL) || strings.Contains(err.Error(), "s3cret") || gets != 0 {
		t.Errorf("%v: class %q retryable %v, %d GETs followed", err, class, retryable, gets)
	}
}

// A secret in a webhook URL's path (Slack and Teams incoming webhooks)
// never reaches an error, and so never a log line.
func TestWebhookErrorsHideURLSecrets(t *testing.T) {
	err := mustBuild(t, "webhook: {endpoint: 'http://127.0.0.1:1/services/T0/B0/s3cret?sig=s3cret'}").
		Send(context.Background(), testenv.SampleEvent())
	if err == nil || strings.Contains(err.Error(), "s3cret") || !strings.Contains(err.Error(), "http://127.0.0.1:1") {
		t.Errorf("error %q", err)
	}
	_, err = build(t, "webhook: {endpoint: 'ftp://user:s3cret@host/x'}")
	if err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("config error %q", err)
	}
}

// A receiver that never answers is a timeout, not a network failure.
func TestWebhookNoAnswerIsTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { <-release }))
	defer srv.Close()
	defer close(release)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	err := mustBuild(t, "webhook: {endpoint: "+srv.URL+"}").Send(ctx, testenv.SampleEvent())
	if class, retryable, _ := sinks.Classify(err); class != "timeout" || !retryable {
		t.Errorf("%v: class %q", err, class)
	}
}

// A 2xx whose body is over the read limit (or never ends) is a delivery:
// the post was accepted, and sending it again would duplicate it.
func TestWebhookHugeAcceptedAnswerIsDelivered(t *testing.T) {
	for name, write := range map[string]func(w http.ResponseWriter, r *http.Request){
		"2 MiB": func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(make([]byte, 2<<20)) },
		"endless": func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusOK)
			for r.Context().Err() == nil {
				if _, err := w.Write(make([]byte, 32<<10)); err != nil {
					return
				}
			}
		},
	} {
		t.Run(name, func(t *testing.T) {
			posts := 0
			var mu sync.Mutex
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				posts++
				mu.Unlock()
				write(w, r)
			}))
			defer srv.Close()
			s := mustBuild(t, "webhook: {endpoint: "+srv.URL+"}")
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := s.Send(ctx, testenv.SampleEvent()); err != nil {
				t.Fatalf("an accepted post with a %s answer: %v, want delivered", name, err)
			}
		})
	}
}

// Every POST carries an Idempotency-Key, the same when the event is sent
// again, different for the next occurrence.
func TestWebhookIdempotencyKey(t *testing.T) {
	var (
		mu   sync.Mutex
		keys []string
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		keys = append(keys, r.Header.Get("Idempotency-Key"))
		mu.Unlock()
	}))
	defer srv.Close()
	s := mustBuild(t, "webhook: {endpoint: "+srv.URL+"}")
	ev := testenv.SampleEvent()
	next := *ev
	next.Count++
	for _, e := range []*event.EnhancedEvent{ev, ev, &next} {
		if err := s.Send(context.Background(), e); err != nil {
			t.Fatal(err)
		}
	}
	if keys[0] == "" || !strings.HasPrefix(keys[0], `"`) || keys[1] != keys[0] || keys[2] == keys[0] {
		t.Errorf("Idempotency-Key headers %q: want a quoted key, repeated for the re-send, new for the next occurrence", keys)
	}
}
