package sinks

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
	"syscall"
	"testing"

	"github.com/rs/zerolog"
	"gopkg.in/yaml.v3"
)

func build(t testing.TB, src string) (Sink, error) {
	t.Helper()
	var c Config
	if err := yaml.Unmarshal([]byte(src), &c); err != nil {
		t.Fatal(err)
	}
	return c.Build("receivers[0]", Deps{Log: zerolog.Nop()})
}

func mustBuild(t *testing.T, src string) Sink {
	t.Helper()
	s, err := build(t, src)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

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
	if err := s.Send(context.Background(), sampleEvent()); err != nil {
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
		_, retry, _ := Classify(s.Send(context.Background(), sampleEvent()))
		if retry != wantRetry {
			t.Errorf("HTTP %d: retryable %v", c, retry)
		}
	}
	srv.Close()
	if class, retry, _ := Classify(s.Send(context.Background(), sampleEvent())); class != "network" || !retry {
		t.Errorf("connection refused: %s %v", class, retry)
	}
}

func TestWebhookVerifiesTLSByDefault(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer srv.Close()
	s := mustBuild(t, "webhook: {endpoint: "+srv.URL+"}")
	if err := s.Send(context.Background(), sampleEvent()); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("unverified TLS accepted: %v", err)
	}
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	s = mustBuild(t, "webhook: {endpoint: "+srv.URL+", tls: {caFile: "+ca+"}}")
	if err := s.Send(context.Background(), sampleEvent()); err != nil {
		t.Fatalf("with caFile: %v", err)
	}
}

func TestWebhookConfigErrors(t *testing.T) {
	_, err := build(t, "webhook: {endpoint: 'ftp://x', method: GET, tls: {caFile: /nonexistent, certFile: a}}")
	for _, want := range []string{
		`receivers[0].webhook.endpoint: "ftp://x" is not an http(s) URL`,
		`receivers[0].webhook.method: "GET"`,
		`receivers[0].webhook.tls.caFile: open /nonexistent`,
		`receivers[0].webhook.tls: certFile and keyFile go together`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v lacks %q", err, want)
		}
	}
}

func TestFileSinkWritesLinesAndRotates(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.log")
	s := mustBuild(t, "file: {path: "+path+", maxsize: 1, maxbackups: 2, layout: {m: '{{ .Message }}'}}")
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatal("building the sink created the file: validate must have no side effects")
	}
	ev := sampleEvent()
	ev.Message = strings.Repeat("x", 100_000)
	for i := 0; i < 25; i++ { // 2.5 MB through a 1 MB file
		if err := s.Send(context.Background(), ev); err != nil {
			t.Fatal(err)
		}
	}
	files, _ := filepath.Glob(filepath.Join(filepath.Dir(path), "events*.log"))
	if len(files) < 2 {
		t.Errorf("no rotation: %v", files)
	}
	b, _ := os.ReadFile(path)
	if lines := strings.Count(string(b), "\n"); lines == 0 || !strings.HasPrefix(string(b), `{"m":"xxx`) {
		t.Errorf("current file has %d lines", lines)
	}
}

// Pointing the file sink at a device (the old tool died rotating
// /dev/stdout) writes to it without rotation.
func TestFileSinkOnDevice(t *testing.T) {
	s := mustBuild(t, "file: {path: /dev/null, maxsize: 1}")
	fs := s.(*fileSink)
	if err := s.Send(context.Background(), sampleEvent()); err != nil {
		t.Fatal(err)
	}
	if _, rotating := fs.wc.(*os.File); !rotating {
		t.Errorf("a device is wrapped in a rotating writer: %T", fs.wc)
	}
}

func TestPipeSink(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 1)
	go func() {
		f, err := os.Open(path)
		if err != nil {
			got <- err.Error()
			return
		}
		defer f.Close()
		b := make([]byte, 4096)
		n, _ := f.Read(b)
		got <- string(b[:n])
	}()
	s := mustBuild(t, "pipe: {path: "+path+", layout: {r: '{{ .Reason }}'}}")
	if err := s.Send(context.Background(), sampleEvent()); err != nil {
		t.Fatal(err)
	}
	if line := <-got; line != "{\"r\":\"BackOff\"}\n" {
		t.Errorf("pipe got %q", line)
	}
}

func TestStdoutWholeEvent(t *testing.T) {
	var out strings.Builder
	var c Config
	if err := yaml.Unmarshal([]byte("stdout: {}"), &c); err != nil {
		t.Fatal(err)
	}
	s, err := c.Build("r", Deps{Log: zerolog.Nop(), Stdout: &out})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Send(context.Background(), sampleEvent()); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"reason":"BackOff"`, `"clusterName":"prod-eu-1"`, `"labels":{"app.kubernetes.io/name":"web","owner":"payments"}`, `"workload":{"apiVersion":"apps/v1","kind":"Deployment","name":"web"}`, `"deleted":false`} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("stdout lacks %s:\n%s", want, out.String())
		}
	}
}

func TestSecretRedacts(t *testing.T) {
	var s Secret
	if err := yaml.Unmarshal([]byte(`xoxb-123`), &s); err != nil {
		t.Fatal(err)
	}
	if s.String() != "<redacted>" || s.Value() != "xoxb-123" {
		t.Errorf("%v %q", s, s.Value())
	}
	b, _ := s.MarshalJSON()
	if strings.Contains(string(b), "xoxb") {
		t.Error("JSON leaks the secret")
	}
	if err := yaml.Unmarshal([]byte(`{env: EVENTIDE_SURELY_UNSET}`), &s); err == nil {
		t.Error("unset env reference accepted")
	}
}

func containsStr(s, sub string) bool { return strings.Contains(s, sub) }
