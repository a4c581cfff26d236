package webhook

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/eventide/eventide/internal/testenv"
)

// preset: honeycomb posts one flat event per Kubernetes event to the
// dataset's Events API with the key in X-Honeycomb-Team and the
// occurrence's time; a hand-set endpoint (an EU team) wins.
func TestHoneycombPreset(t *testing.T) {
	var (
		mu   sync.Mutex
		path string
		body string
		hdr  http.Header
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		path, body, hdr = r.URL.Path, string(b), r.Header.Clone()
		mu.Unlock()
	}))
	defer srv.Close()
	s := mustBuild(t, `webhook: {preset: honeycomb, dataset: k8s events, apiKey: hc-key, endpoint: '`+srv.URL+`/1/events/k8s%20events'}`)
	if err := s.Send(context.Background(), testenv.SampleEvent()); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	want := `{"cluster":"prod-eu-1","namespace":"shop","kind":"Pod","name":"web-1","workload":"Deployment/web","reason":"BackOff","type":"Warning","class":"CrashLoop","message":"Back-off restarting failed container \"app\" <x>","count":3,"component":"kubelet","host":"node-7","event_id":"ev-uid-3"}`
	if path != "/1/events/k8s events" || hdr.Get("X-Honeycomb-Team") != "hc-key" || hdr.Get("X-Honeycomb-Event-Time") != "2026-11-21T10:00:00.000Z" || body != want {
		t.Errorf("%s %v\n%s\nwant\n%s", path, hdr, body, want)
	}
	if _, err := build(t, `webhook: {preset: honeycomb, dataset: d}`); err == nil || !strings.Contains(err.Error(), "needs dataset and apiKey") {
		t.Errorf("no key: %v", err)
	}
	if _, err := build(t, `webhook: {preset: datadog, apiKey: k}`); err == nil || !strings.Contains(err.Error(), `preset: "datadog"`) {
		t.Errorf("unknown preset: %v", err)
	}
	if p, err := build(t, `webhook: {preset: honeycomb, dataset: d, apiKey: k}`); err != nil || p.(*webhookSink).endpoint != "https://api.honeycomb.io/1/events/d" {
		t.Errorf("default endpoint: %v", err)
	}
}
