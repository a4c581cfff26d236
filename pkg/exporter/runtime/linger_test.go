package runtime

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eventide/eventide/internal/testenv"
	"github.com/eventide/eventide/internal/testenv/testevent"
	"github.com/eventide/eventide/pkg/kube/event"
	"github.com/eventide/eventide/pkg/sinks"
)

// lingerSink is a Lingerer that records the batches it got.
type lingerSink struct {
	fakeSink
	linger  time.Duration
	batches [][]string
}

func (s *lingerSink) MaxBatch() int         { return 10 }
func (s *lingerSink) Linger() time.Duration { return s.linger }

func (s *lingerSink) SendBatch(_ context.Context, evs []*event.EnhancedEvent) []error {
	s.mu.Lock()
	defer s.mu.Unlock()
	names := make([]string, len(evs))
	for i, ev := range evs {
		names[i] = ev.Name
	}
	s.batches = append(s.batches, names)
	return make([]error, len(evs))
}

func (s *lingerSink) sentBatches() [][]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.batches)
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

// startLingering runs sink as receiver "r" with a linger timer the test
// fires: each linger sends its timer's channel on lingering.
func startLingering(t *testing.T, sink sinks.Sink) (*Runtime, chan chan time.Time) {
	t.Helper()
	rt, _, _ := newTestRuntime(t, sink, Delivery{})
	lingering := make(chan chan time.Time, 10)
	rt.workers["r"].after = func(time.Duration) <-chan time.Time {
		c := make(chan time.Time, 1)
		lingering <- c
		return c
	}
	rt.Start()
	return rt, lingering
}

// A Lingerer's partial batch waits for more events until it is full or the
// linger time passes.
func TestLingerFillsBatches(t *testing.T) {
	sink := &lingerSink{linger: time.Hour}
	rt, lingering := startLingering(t, sink)
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

// fillSink is a lingerSink whose batches are full at 3 events (a size
// limit, as the S3 archive's maxBytes).
type fillSink struct{ lingerSink }

func (s *fillSink) Full(batch []*event.EnhancedEvent) bool { return len(batch) >= 3 }

// A Filler's batch goes as soon as it says it is full, without waiting
// for the linger time or MaxBatch.
func TestLingerEndsWhenFull(t *testing.T) {
	sink := &fillSink{lingerSink{linger: time.Hour}}
	rt, lingering := startLingering(t, sink)
	defer rt.Shutdown(context.Background())
	rt.Enqueue("r", testevent.Named("a"))
	<-lingering // a partial batch waits
	for i := 0; i < 4; i++ {
		rt.Enqueue("r", testevent.Named("b"))
	}
	testenv.Eventually(t, "a full batch of 3", func() bool { return len(sink.sentBatches()) >= 1 })
	if b := sink.sentBatches()[0]; len(b) != 3 {
		t.Errorf("first batch %v: want 3 (full), not 10 or the linger's", b)
	}
}
