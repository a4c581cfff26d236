package exporter

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/eventide/eventide/internal/testenv"
	"github.com/eventide/eventide/pkg/exporter/config"
	"github.com/eventide/eventide/pkg/exporter/route"
	"github.com/eventide/eventide/pkg/kube"
	"github.com/eventide/eventide/pkg/kube/event"
)

// slowEnricher answers from "memory" for every object but slow, whose
// lookup needs a fetch that waits until release is closed.
type slowEnricher struct {
	release chan struct{}
	fetches atomic.Int32
}

func (s *slowEnricher) Cached(ref *event.EnhancedObjectReference, _ time.Duration) (kube.Meta, kube.Answer) {
	if ref.Name == "slow" {
		return kube.Meta{}, kube.NeedFetch
	}
	return kube.Meta{}, kube.Known
}

func (s *slowEnricher) Fetch(ctx context.Context, ref *event.EnhancedObjectReference) (kube.Meta, kube.Answer) {
	s.fetches.Add(1)
	select {
	case <-s.release:
	case <-ctx.Done():
	}
	return kube.Meta{}, kube.Known
}

// syncEnqueuer records, under a lock, what the pipeline enqueued; each
// event is delivered at once.
type syncEnqueuer struct {
	mu  sync.Mutex
	tr  *Tracker
	got []string
}

func (r *syncEnqueuer) Enqueue(receiver string, ev *event.EnhancedEvent) {
	r.mu.Lock()
	r.got = append(r.got, ev.Name)
	r.mu.Unlock()
	r.tr.Done(receiver, ev)
}

func (r *syncEnqueuer) names() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return fmt.Sprint(r.got)
}

// An event waiting for a lookup does not hold back events about other
// objects, but it holds the checkpoint: it stays below the waiting event while a
// later one is delivered, so a crash then cannot skip it. Events about the
// waiting object keep their order behind it, and share its one fetch.
func TestLookupParksOnlyItsObject(t *testing.T) {
	tree := mustTree(t, route.Config{Match: []route.Rule{{Receiver: "a"}}})
	tr := NewTracker([]string{"a"}, false, nil)
	enq := &syncEnqueuer{tr: tr}
	en := &slowEnricher{release: make(chan struct{})}
	p := NewPipeline(&config.Loaded{Tree: tree}, enq, NewMetrics(prometheus.NewRegistry(), ""), PipelineOptions{Tracker: tr, Enricher: en})
	ev := func(rv int, object string) *event.EnhancedEvent {
		e := rvNamed(rv)
		e.InvolvedObject.Kind, e.InvolvedObject.Name = "Pod", object
		return e
	}
	done := make(chan struct{})
	go func() { p.Run(context.Background()); close(done) }()
	p.Handle(ev(10, "slow"))
	p.Handle(ev(11, "fast"))
	p.Handle(ev(12, "slow"))
	p.Handle(ev(13, "fast"))

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := testenv.PollUntil(ctx, time.Millisecond, func() bool { return enq.names() == "[11 13]" }); err != nil {
		t.Fatalf("enqueued %s, want the fast object's events while the slow one waits: %v", enq.names(), err)
	}
	if cp := tr.Checkpoints()["a"][StreamAll]; cp != 9 {
		t.Errorf("checkpoint %d while RV 10 waits for its lookup, want 9", cp)
	}
	close(en.release)
	if err := testenv.PollUntil(ctx, time.Millisecond, func() bool { return enq.names() == "[11 13 10 12]" }); err != nil {
		t.Errorf("enqueued %s, want the slow object's events after its lookup, in order: %v", enq.names(), err)
	}
	p.Close()
	<-done
	if n := en.fetches.Load(); n != 1 {
		t.Errorf("%d fetches for one object, want 1", n)
	}
	if cp := tr.Checkpoints()["a"][StreamAll]; cp != 13 {
		t.Errorf("checkpoint %d once all are delivered, want 13", cp)
	}
}
