package runtime

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eventide/eventide/internal/testenv/testevent"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/eventide/eventide/internal/testenv"
	"github.com/eventide/eventide/pkg/kube/event"
	"github.com/eventide/eventide/pkg/sinks"
)

// keepingSink keeps every event it is sent (an AckSink) and records the
// batches it got; the test acknowledges them through ack.
type keepingSink struct {
	mu      sync.Mutex
	batches [][]string
	kept    []*event.EnhancedEvent
	ack     func(*event.EnhancedEvent, error)
	linger  time.Duration
	flushed bool
}

func (s *keepingSink) Send(ctx context.Context, ev *event.EnhancedEvent) error {
	return s.SendBatch(ctx, []*event.EnhancedEvent{ev})[0]
}
func (s *keepingSink) Close() error                                 { return nil }
func (s *keepingSink) MaxBatch() int                                { return 10 }
func (s *keepingSink) Linger() time.Duration                        { return s.linger }
func (s *keepingSink) SetAck(ack func(*event.EnhancedEvent, error)) { s.ack = ack }

func (s *keepingSink) SendBatch(_ context.Context, evs []*event.EnhancedEvent) []error {
	s.mu.Lock()
	defer s.mu.Unlock()
	names := make([]string, len(evs))
	errs := make([]error, len(evs))
	for i, ev := range evs {
		names[i] = ev.Name
		errs[i] = sinks.ErrKept
		s.kept = append(s.kept, ev)
	}
	s.batches = append(s.batches, names)
	return errs
}

// Flush delivers everything still kept.
func (s *keepingSink) Flush(context.Context) {
	s.mu.Lock()
	kept := s.kept
	s.kept, s.flushed = nil, true
	s.mu.Unlock()
	for _, ev := range kept {
		s.ack(ev, nil)
	}
}

// resolve acknowledges the kept event named name with err.
func (s *keepingSink) resolve(t *testing.T, name string, err error) {
	t.Helper()
	s.mu.Lock()
	var ev *event.EnhancedEvent
	for i, k := range s.kept {
		if k.Name == name {
			ev = k
			s.kept = append(s.kept[:i], s.kept[i+1:]...)
			break
		}
	}
	s.mu.Unlock()
	if ev == nil {
		t.Fatalf("%s is not kept", name)
	}
	s.ack(ev, err)
}

func (s *keepingSink) sentCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, b := range s.batches {
		n += len(b)
	}
	return n
}

func (s *keepingSink) sentBatches() [][]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([][]string(nil), s.batches...)
}

// A kept event pins the checkpoint until the sink acknowledges it; a
// late failure is dead-lettered (and released) or, when retryable, queued
// again; the drain flushes what is still kept.
func TestAckSinkLateAcknowledgement(t *testing.T) {
	sink := &keepingSink{}
	rt, m, _ := newTestRuntime(t, sink, Delivery{})
	tr := &doneTracker{}
	rt.workers["r"].tracker = tr
	for _, name := range []string{"10", "11", "12", "13"} {
		rt.Enqueue("r", testevent.Named(name))
	}
	rt.Start()
	testenv.Eventually(t, "sink gets all four", func() bool { return sink.sentCount() == 4 })
	if got := tr.finished(); got != "" {
		t.Fatalf("finished %q: kept events must stay pending", got)
	}
	sink.resolve(t, "10", nil)                                                         // delivered
	sink.resolve(t, "11", sinks.Permanent(sinks.ClassHTTP4xx, errors.New("rejected"))) // dead-lettered
	if got := tr.finished(); got != "10 11" {
		t.Errorf("finished %q, want 10 delivered and 11 dead-lettered", got)
	}
	if testutil.ToFloat64(m.DeadLetters.WithLabelValues("r")) != 1 || testutil.ToFloat64(m.Sent.WithLabelValues("r")) != 1 {
		t.Error("late outcomes not counted")
	}
	sink.resolve(t, "12", sinks.Retryable(sinks.ClassHTTP5xx, errors.New("busy"), 0)) // comes back
	testenv.Eventually(t, "retryable late failure sent again", func() bool { return sink.sentCount() == 5 })
	if b := sink.sentBatches(); b[len(b)-1][0] != "12" {
		t.Errorf("batches %v: want 12 sent again", b)
	}
	rt.Shutdown(context.Background()) // the drain flushes 12 and 13
	if got := tr.finished(); got != "10 11 12 13" || !sink.flushed {
		t.Errorf("after the drain: finished %q, flushed %v", got, sink.flushed)
	}
}

// doneTracker records the events a receiver finished with.
type doneTracker struct {
	mu   sync.Mutex
	done []string
}

func (d *doneTracker) Done(_ string, ev *event.EnhancedEvent) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.done = append(d.done, ev.Name)
}

func (d *doneTracker) count() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.done)
}

func (d *doneTracker) finished() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return strings.Join(slices.Sorted(slices.Values(d.done)), " ")
}

// A Lingerer's partial batch waits for more events until it is full or the
// linger time passes.
func TestLingerFillsBatches(t *testing.T) {
	sink := &keepingSink{linger: time.Hour}
	rt, _, _ := newTestRuntime(t, sink, Delivery{})
	sink.ack = func(*event.EnhancedEvent, error) {}
	w := rt.workers["r"]
	lingering := make(chan chan time.Time, 1)
	w.after = func(time.Duration) <-chan time.Time {
		c := make(chan time.Time, 1)
		lingering <- c
		return c
	}
	rt.Start()
	defer rt.Shutdown(context.Background())
	for i := 0; i < 3; i++ {
		rt.Enqueue("r", testevent.Named("a"))
	}
	timer := <-lingering // a partial batch waits
	for i := 0; i < 7; i++ {
		rt.Enqueue("r", testevent.Named("b"))
	}
	testenv.Eventually(t, "a full batch", func() bool { return len(sink.sentBatches()) == 1 })
	if b := sink.sentBatches()[0]; len(b) != 10 {
		t.Errorf("first batch %v: want the 3 lingering events and 7 more", b)
	}
	rt.Enqueue("r", testevent.Named("c"))
	timer = <-lingering
	timer <- time.Now() // the linger time passes
	testenv.Eventually(t, "the partial batch after the linger", func() bool { return len(sink.sentBatches()) == 2 })
	if b := sink.sentBatches()[1]; len(b) != 1 {
		t.Errorf("second batch %v", b)
	}
}
