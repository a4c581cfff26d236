package statuspage

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/eventide/eventide/internal/redact"
	"github.com/eventide/eventide/internal/testenv/testevent"
	"github.com/eventide/eventide/pkg/exporter"
	"github.com/eventide/eventide/pkg/exporter/config"
	"github.com/eventide/eventide/pkg/exporter/grouping"
	"github.com/eventide/eventide/pkg/exporter/recent"
	"github.com/eventide/eventide/pkg/exporter/runtime"
	"github.com/eventide/eventide/pkg/kube/event"
	"github.com/eventide/eventide/pkg/sinks"
)

// live is the engine's pipeline and runtime, running without a cluster:
// the pages read it as they read the engine.
type live struct {
	loaded   *config.Loaded
	rt       *runtime.Runtime
	pipeline *exporter.Pipeline
	ring     *recent.Ring
	m        *exporter.Metrics
	status   func(exporter.Status) exporter.Status // changes what Status says (standby)
}

func (l *live) Status() exporter.Status {
	st := exporter.Status{Delivering: true, CachesSynced: true, WatchLastSuccess: time.Now()}
	for _, r := range l.loaded.Receivers {
		rs := exporter.ReceiverStatus{Name: r.Name, Type: r.Type}
		rs.ReceiverStatus, rs.Running = l.rt.Status(r.Name)
		st.Receivers = append(st.Receivers, rs)
	}
	if l.status != nil {
		st = l.status(st)
	}
	return st
}

func (l *live) Groups(name string) []grouping.View { return l.rt.Groups(name) }
func (l *live) Config() *config.Loaded             { return l.loaded }

// startLive loads conf with env and runs its pipeline and runtime until
// the test ends. secrets learns the ${VAR} values.
func startLive(t testing.TB, conf string, env map[string]string, secrets *redact.Secrets) *live {
	t.Helper()
	lookup := secrets.Lookup(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	loaded, err := config.Load([]byte(conf), config.LoadOptions{LookupEnv: lookup,
		Deps: sinks.Deps{Ctx: context.Background(), Log: zerolog.Nop()}})
	if err != nil {
		t.Fatal(err)
	}
	l := &live{loaded: loaded, ring: recent.New(0), m: exporter.NewMetrics(prometheus.NewRegistry(), "eventide")}
	l.rt, err = runtime.NewRuntime(loaded.Receivers, l.m.Metrics, zerolog.Nop(), runtime.Options{Recent: l.ring})
	if err != nil {
		t.Fatal(err)
	}
	l.pipeline = exporter.NewPipeline(loaded, l.rt, l.m, exporter.PipelineOptions{Recent: l.ring})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	l.rt.Start()
	go func() { l.pipeline.Run(ctx); close(done) }()
	t.Cleanup(func() {
		l.pipeline.Close()
		<-done
		cancel()
		sctx, stop := context.WithCancel(context.Background())
		stop() // nothing waits for the retrying receiver
		l.rt.Shutdown(sctx)
	})
	return l
}

// get fetches path from h and returns the body; it fails on a status
// other than 200.
func get(t testing.TB, h http.Handler, path string) (string, http.Header) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	body, _ := io.ReadAll(rec.Result().Body)
	if rec.Code != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, rec.Code, body)
	}
	return string(body), rec.Result().Header
}

// pod is testevent.Pod named name with reason and message.
func pod(name, reason, message string) *event.EnhancedEvent {
	return testevent.Pod(func(e *event.EnhancedEvent) {
		e.Name, e.UID, e.Reason, e.Message = name, types.UID("uid-"+name), reason, message
		e.InvolvedObject.Name = name
		e.ResourceVersion = "1"
		e.LastTimestamp = metav1.NewTime(time.Now().Truncate(time.Second))
	})
}
