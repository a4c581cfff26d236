package statuspage

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/eventide/eventide/internal/redact"
	"github.com/eventide/eventide/internal/testenv"
	"github.com/eventide/eventide/pkg/exporter/recent"
)

const benchConfig = `
route:
  match:
    - receiver: slack
    - receiver: archive
receivers:
  - name: slack
    webhook: {endpoint: "HOOK"}
  - name: archive
    webhook: {endpoint: "HOOK"}
`

// fullRing is a live pipeline whose ring holds recent.DefaultSize
// delivered events with 200-byte messages.
func fullRing(b testing.TB) (*live, http.Handler) {
	hook := testenv.NewRecorder()
	b.Cleanup(hook.Close)
	l := startLive(b, strings.ReplaceAll(benchConfig, "HOOK", hook.URL), nil, &redact.Secrets{})
	for i := range recent.DefaultSize {
		l.pipeline.Handle(pod(fmt.Sprintf("web-%d", i), "BackOff", strings.Repeat("m", 200)))
	}
	testenv.Eventually(b, "a full ring, delivered", func() bool {
		got := l.ring.Snapshot(recent.Filter{Receiver: "archive", Outcome: recent.Delivered}, 0)
		return len(got) == recent.DefaultSize && len(l.ring.Snapshot(recent.Filter{Receiver: "slack", Outcome: recent.Delivered}, 0)) == recent.DefaultSize
	})
	return l, Handler(Options{Engine: l, Recent: l.ring, Version: "bench"})
}

// BenchmarkRenderEvents renders /events with a full ring (500 events).
func BenchmarkRenderEvents(b *testing.B) {
	_, h := fullRing(b)
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/events", nil))
		if rec.Code != 200 || rec.Body.Len() < 100_000 {
			b.Fatalf("%d, %d bytes", rec.Code, rec.Body.Len())
		}
	}
}

// BenchmarkRenderOverview renders /.
func BenchmarkRenderOverview(b *testing.B) {
	_, h := fullRing(b)
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
		if rec.Code != 200 {
			b.Fatal(rec.Code)
		}
	}
}

// Pages read while events flow, a grouping receiver absorbs and notifies
// and receivers report (go test -race checks the locking).
func TestPagesWhileDelivering(t *testing.T) {
	hook := testenv.NewRecorder()
	defer hook.Close()
	conf := strings.ReplaceAll(benchConfig, "HOOK", hook.URL) + "    group: {by: [reason], wait: 10ms, interval: 10ms}\n"
	l := startLive(t, conf, nil, &redact.Secrets{})
	h := Handler(Options{Engine: l, Recent: l.ring})
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for _, path := range []string{"/", "/events", "/groups?format=json", "/silences"} {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
					get(t, h, path)
				}
			}
		})
	}
	for i := range 2000 {
		l.pipeline.Handle(pod(fmt.Sprintf("web-%d", i), fmt.Sprintf("R%d", i%7), "m"))
	}
	testenv.Eventually(t, "every event delivered to archive", func() bool {
		return len(l.ring.Snapshot(recent.Filter{Receiver: "archive", Outcome: recent.Delivered}, 0)) == recent.DefaultSize
	})
	close(stop)
	wg.Wait()
}
