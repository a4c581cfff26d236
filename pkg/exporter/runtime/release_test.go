package runtime

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/rs/zerolog"

	"github.com/eventide/eventide/internal/testenv"
	"github.com/eventide/eventide/internal/testenv/testevent"
	"github.com/eventide/eventide/pkg/sinks"
)

// runTracked runs receiver "r" on sink with events 1..n and waits until the
// receiver has finished every one (told the tracker): an event it never
// finishes pins the checkpoint and fails the test.
func runTracked(t *testing.T, sink sinks.Sink, d Delivery, opts Options, n int) *Metrics {
	t.Helper()
	d, errs := d.WithDefaults("test")
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	m := NewMetrics(prometheus.NewRegistry(), "")
	tr := &doneTracker{}
	opts.Tracker = tr
	rt, err := NewRuntime([]Receiver{{Name: "r", Delivery: d, Sink: sink}}, m, zerolog.Nop(), opts)
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= n; i++ {
		rt.Enqueue("r", testevent.Named(fmt.Sprint(i)))
	}
	rt.Start()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = testenv.PollUntil(ctx, 5*time.Millisecond, func() bool { return tr.count() == n })
	rt.Shutdown(ctx)
	if err != nil {
		t.Fatalf("%d of %d events finished: the others pin the checkpoint (%v)", tr.count(), n, err)
	}
	return m
}

// A dead-lettered event is finished: it releases the checkpoint.
func TestDeadLetteredEventIsFinished(t *testing.T) {
	sink := &fakeSink{script: []error{sinks.Permanent(sinks.ClassHTTP4xx, errors.New("HTTP 400"))}}
	m := runTracked(t, sink, Delivery{}, Options{}, 3)
	if got := testutil.ToFloat64(m.DeadLetters.WithLabelValues("r")); got != 1 {
		t.Errorf("dead letters %v, want 1", got)
	}
}

// Events dropped because the spool was full, or the memory queue without a
// spool, are finished too.
func TestDroppedEventsAreFinished(t *testing.T) {
	for _, tc := range []struct {
		name   string
		opts   Options
		reason string
	}{
		{"spool full", Options{SpoolDir: t.TempDir(), SpoolMaxBytes: 3000}, DropSpoolFull},
		{"queue full, no spool", Options{}, DropQueueFull},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := runTracked(t, &fakeSink{}, Delivery{QueueSize: 1}, tc.opts, 61)
			if got := testutil.ToFloat64(m.Dropped.WithLabelValues("r", tc.reason)); got == 0 {
				t.Errorf("nothing dropped for %s: the test did not fill it", tc.reason)
			}
		})
	}
}
