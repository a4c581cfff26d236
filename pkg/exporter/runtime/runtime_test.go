package runtime

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eventide/eventide/internal/testenv"
	"github.com/eventide/eventide/internal/testenv/testevent"
	"github.com/eventide/eventide/pkg/kube/event"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/rs/zerolog"

	"github.com/eventide/eventide/pkg/sinks"
)

// fakeSink answers each Send from a script and records what it was given.
type fakeSink struct {
	mu      sync.Mutex
	script  []error // answers in order; nil after the end
	got     []string
	calls   int
	release chan struct{} // when set, Send waits on it
}

func (f *fakeSink) Send(ctx context.Context, ev *event.EnhancedEvent) error {
	if f.release != nil {
		select {
		case <-f.release:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var err error
	if f.calls < len(f.script) {
		err = f.script[f.calls]
	}
	f.calls++
	if err == nil {
		f.got = append(f.got, ev.Name)
	}
	return err
}

func (f *fakeSink) Close() error { return nil }

func (f *fakeSink) delivered() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.got...)
}

func newTestRuntime(t *testing.T, sink sinks.Sink, d Delivery) (*Runtime, *Metrics, *[]time.Duration) {
	t.Helper()
	d, errs := d.WithDefaults("test")
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	m := NewMetrics(prometheus.NewRegistry(), "")
	rt, err := NewRuntime([]Receiver{{Name: "r", Delivery: d, Sink: sink}}, m, zerolog.Nop(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var sleeps []time.Duration
	rt.workers["r"].sleep = func(ctx context.Context, dur time.Duration) error {
		mu.Lock()
		sleeps = append(sleeps, dur)
		mu.Unlock()
		return ctx.Err()
	}
	return rt, m, &sleeps
}

// drain runs the runtime until everything queued was handled.
func drain(t *testing.T, rt *Runtime) {
	t.Helper()
	rt.Start()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rt.Shutdown(ctx)
	if ctx.Err() != nil {
		t.Fatal("runtime did not drain")
	}
}

func TestRetryThenSucceed(t *testing.T) {
	sink := &fakeSink{script: []error{
		sinks.Retryable(sinks.ClassHTTP5xx, errors.New("503"), 0),
		sinks.Retryable(sinks.ClassRateLimited, errors.New("429"), 7*time.Second),
	}}
	rt, m, sleeps := newTestRuntime(t, sink, Delivery{InitialBackoff: time.Second, MaxBackoff: 4 * time.Second})
	rt.Enqueue("r", testevent.Named("a"))
	drain(t, rt)
	if got := sink.delivered(); len(got) != 1 {
		t.Fatalf("delivered %v", got)
	}
	if n := testutil.ToFloat64(m.Retried.WithLabelValues("r", "http_5xx")) + testutil.ToFloat64(m.Retried.WithLabelValues("r", "rate_limited")); n != 2 {
		t.Errorf("retries %v, want 2", n)
	}
	s := *sleeps
	if len(s) != 2 || s[0] < 500*time.Millisecond || s[0] >= time.Second || s[1] != 7*time.Second {
		t.Errorf("backoffs %v: want jittered 1s, then the server's Retry-After 7s", s)
	}
	if testutil.ToFloat64(m.Sent.WithLabelValues("r")) != 1 {
		t.Error("sent not counted")
	}
}

func TestBackoffGrowsToMax(t *testing.T) {
	var script []error
	for i := 0; i < 6; i++ {
		script = append(script, errors.New("connection refused"))
	}
	sink := &fakeSink{script: script}
	rt, m, sleeps := newTestRuntime(t, sink, Delivery{InitialBackoff: time.Second, MaxBackoff: 4 * time.Second, MaxRetries: 5})
	rt.Enqueue("r", testevent.Named("a"))
	drain(t, rt)
	s := *sleeps
	if len(s) != 5 {
		t.Fatalf("%d sleeps, want 5 (MaxRetries)", len(s))
	}
	for i, max := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 4 * time.Second, 4 * time.Second} {
		if s[i] < max/2 || s[i] >= max {
			t.Errorf("sleep %d = %v, want in [%v, %v)", i, s[i], max/2, max)
		}
	}
	if testutil.ToFloat64(m.Failed.WithLabelValues("r", "other")) != 1 || len(sink.delivered()) != 0 {
		t.Error("a send that kept failing is not counted as failed")
	}
}

func TestPermanentFailureIsNotRetried(t *testing.T) {
	sink := &fakeSink{script: []error{sinks.Permanent(sinks.ClassHTTP4xx, errors.New("400")), nil}}
	rt, m, sleeps := newTestRuntime(t, sink, Delivery{})
	rt.Enqueue("r", testevent.Named("bad"))
	rt.Enqueue("r", testevent.Named("good"))
	drain(t, rt)
	if len(*sleeps) != 0 {
		t.Errorf("permanent failure retried: %v", *sleeps)
	}
	if got := sink.delivered(); len(got) != 1 || got[0] != "good" {
		t.Errorf("delivered %v; the next event must go on", got)
	}
	if testutil.ToFloat64(m.Failed.WithLabelValues("r", "http_4xx")) != 1 {
		t.Error("failure not counted")
	}
}

func TestTemplateErrorCountedOnce(t *testing.T) {
	sink := &fakeSink{script: []error{&sinks.TemplateError{Err: errors.New("boom")}}}
	rt, m, sleeps := newTestRuntime(t, sink, Delivery{})
	rt.Enqueue("r", testevent.Named("a"))
	drain(t, rt)
	if len(*sleeps) != 0 || testutil.ToFloat64(m.TemplateErrors.WithLabelValues("r")) != 1 ||
		testutil.ToFloat64(m.Failed.WithLabelValues("r", "template")) != 1 {
		t.Errorf("template error: sleeps %v, template_errors %v", *sleeps, testutil.ToFloat64(m.TemplateErrors.WithLabelValues("r")))
	}
}

func TestFullQueueDropsOldest(t *testing.T) {
	sink := &fakeSink{}
	rt, m, _ := newTestRuntime(t, sink, Delivery{QueueSize: 3})
	for i := 0; i < 5; i++ {
		rt.Enqueue("r", testevent.Named(fmt.Sprint(i)))
	}
	if testutil.ToFloat64(m.QueueLength.WithLabelValues("r")) != 3 {
		t.Error("queue length gauge wrong")
	}
	drain(t, rt)
	if got := fmt.Sprint(sink.delivered()); got != "[2 3 4]" {
		t.Errorf("delivered %s, want the newest three in order", got)
	}
	if testutil.ToFloat64(m.Dropped.WithLabelValues("r", "queue_full")) != 2 {
		t.Error("drops not counted")
	}
}

// A stuck receiver neither blocks Enqueue nor another receiver.
func TestStuckReceiverIsolated(t *testing.T) {
	stuck := &fakeSink{release: make(chan struct{})}
	live := &fakeSink{}
	d, _ := Delivery{QueueSize: 10, Timeout: time.Hour}.WithDefaults("")
	m := NewMetrics(prometheus.NewRegistry(), "")
	rt, err := NewRuntime([]Receiver{{Name: "stuck", Delivery: d, Sink: stuck}, {Name: "live", Delivery: d, Sink: live}}, m, zerolog.Nop(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	rt.Start()
	for i := 0; i < 100; i++ { // far more than the stuck queue holds: must not block
		ev := testevent.Named(fmt.Sprint(i))
		rt.Enqueue("stuck", ev)
		rt.Enqueue("live", ev)
	}
	testenv.Eventually(t, "the live receiver delivers", func() bool { return len(live.delivered()) >= 10 })
	// Shutdown with a deadline: the stuck send is cancelled, what it had
	// queued is counted as dropped, and Shutdown returns.
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	rt.Shutdown(ctx)
	if testutil.ToFloat64(m.Dropped.WithLabelValues("stuck", "shutdown")) == 0 {
		t.Error("events abandoned at shutdown not counted")
	}
}

func TestClassifyHTTP(t *testing.T) {
	for _, tc := range []struct {
		code      int
		header    string
		class     string
		retryable bool
		after     time.Duration
	}{
		{400, "", "http_4xx", false, 0},
		{404, "", "http_4xx", false, 0},
		{408, "", "http_5xx", true, 0},
		{429, "3", "rate_limited", true, 3 * time.Second},
		{500, "", "http_5xx", true, 0},
		{503, "120", "http_5xx", true, 2 * time.Minute},
	} {
		class, retry, after := sinks.Classify(sinks.HTTPStatusError(tc.code, tc.header, nil))
		if string(class) != tc.class || retry != tc.retryable || after != tc.after {
			t.Errorf("%d: got %s %v %v", tc.code, class, retry, after)
		}
	}
}

// batchSink fails, on its first call, the events whose names are in failOnce.
type batchSink struct {
	fakeSink
	failOnce map[string]error
	batches  [][]string
}

func (b *batchSink) MaxBatch() int { return 3 }

func (b *batchSink) SendBatch(_ context.Context, evs []*event.EnhancedEvent) []error {
	b.mu.Lock()
	defer b.mu.Unlock()
	errs := make([]error, len(evs))
	var names []string
	for i, ev := range evs {
		names = append(names, ev.Name)
		if err, ok := b.failOnce[ev.Name]; ok {
			delete(b.failOnce, ev.Name)
			errs[i] = err
			continue
		}
		b.got = append(b.got, ev.Name)
	}
	b.batches = append(b.batches, names)
	return errs
}

func TestBatchRetriesOnlyFailedRecords(t *testing.T) {
	sink := &batchSink{failOnce: map[string]error{
		"b": sinks.Retryable(sinks.ClassRateLimited, errors.New("ProvisionedThroughputExceeded"), 0),
		"c": sinks.Permanent(sinks.ClassHTTP4xx, errors.New("record too large")),
	}}
	rt, m, sleeps := newTestRuntime(t, sink, Delivery{})
	for _, n := range []string{"a", "b", "c", "d"} {
		rt.Enqueue("r", testevent.Named(n))
	}
	drain(t, rt)
	if got := fmt.Sprint(sink.batches); got != "[[a b c] [b] [d]]" && got != "[[a b c] [b d]]" {
		t.Errorf("batches %s: want a full batch, then only b retried", got)
	}
	if got := fmt.Sprint(sink.delivered()); got != "[a b d]" && got != "[a d b]" {
		t.Errorf("delivered %s", got)
	}
	if len(*sleeps) != 1 || testutil.ToFloat64(m.Failed.WithLabelValues("r", "http_4xx")) != 1 ||
		testutil.ToFloat64(m.Sent.WithLabelValues("r")) != 3 {
		t.Errorf("sleeps %v failed %v sent %v", *sleeps, testutil.ToFloat64(m.Failed.WithLabelValues("r", "http_4xx")), testutil.ToFloat64(m.Sent.WithLabelValues("r")))
	}
}

// With a spool, a full memory queue drops nothing: the overflow goes to
// disk and everything is delivered in order once the sink answers.
func TestSpoolOverflowDeliversInOrder(t *testing.T) {
	sink := &fakeSink{release: make(chan struct{})}
	d, _ := Delivery{QueueSize: 3}.WithDefaults("")
	m := NewMetrics(prometheus.NewRegistry(), "")
	rt, err := NewRuntime([]Receiver{{Name: "r", Delivery: d, Sink: sink}}, m, zerolog.Nop(),
		Options{SpoolDir: t.TempDir(), SpoolMaxBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	rt.Start()
	var want []string
	for i := 0; i < 50; i++ {
		rt.Enqueue("r", testevent.Named(fmt.Sprint(i)))
		want = append(want, fmt.Sprint(i))
	}
	if testutil.ToFloat64(m.SpoolEvents.WithLabelValues("r")) == 0 {
		t.Error("nothing spooled with a queue of 3 and a stuck sink")
	}
	close(sink.release)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rt.Shutdown(ctx)
	if got := sink.delivered(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("delivered %v", got)
	}
	if testutil.ToFloat64(m.Dropped.WithLabelValues("r", "queue_full"))+testutil.ToFloat64(m.Dropped.WithLabelValues("r", "spool_full")) != 0 {
		t.Error("events dropped although the spool had room")
	}
}

// An absurd Retry-After (31 years) waits delivery.maxRetryAfter at most.
func TestRetryAfterIsCapped(t *testing.T) {
	for _, tc := range []struct {
		d    Delivery
		want time.Duration
	}{
		{Delivery{}, DefaultMaxRetryAfter},
		{Delivery{MaxBackoff: time.Hour}, time.Hour},
		{Delivery{MaxRetryAfter: time.Minute}, time.Minute},
	} {
		sink := &fakeSink{script: []error{
			sinks.Retryable(sinks.ClassRateLimited, errors.New("429"), sinks.ParseRetryAfter("999999999", time.Now())),
		}}
		rt, _, sleeps := newTestRuntime(t, sink, tc.d)
		rt.Enqueue("r", testevent.Named("a"))
		drain(t, rt)
		if s := *sleeps; len(s) != 1 || s[0] != tc.want {
			t.Errorf("%+v: waited %v, want %v", tc.d, s, tc.want)
		}
	}
}

// A template that fails on every event writes a few lines, not one per
// event; the metric counts every one, and the first line after the window
// says how many were left out.
func TestFailureLogsAreLimited(t *testing.T) {
	var logs testenv.SyncBuffer
	sink := &fakeSink{}
	for i := 0; i < 300; i++ {
		sink.script = append(sink.script, fmt.Errorf("layout.v: %w", &sinks.TemplateError{Err: errors.New("boom")}))
	}
	d, _ := Delivery{QueueSize: 500}.WithDefaults("")
	m := NewMetrics(prometheus.NewRegistry(), "")
	rt, err := NewRuntime([]Receiver{{Name: "r", Delivery: d, Sink: sink}}, m, zerolog.New(&logs), Options{})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	rt.workers["r"].logs.now = func() time.Time { return now }
	for i := 0; i < 300; i++ {
		rt.Enqueue("r", testevent.Named(fmt.Sprint(i)))
	}
	drain(t, rt)
	if got := testutil.ToFloat64(m.Failed.WithLabelValues("r", "template")); got != 300 {
		t.Fatalf("failed %v, want 300", got)
	}
	if n := strings.Count(logs.String(), "\n"); n != logBurst {
		t.Errorf("%d log lines for 300 failures, want %d:\n%s", n, logBurst, logs.String())
	}
	now = now.Add(logWindow)
	next := zerolog.New(&logs)
	rt.workers["r"].logs.event("failed/template", next.Error()).Msg("next")
	if !strings.Contains(logs.String(), `"similar_lines_left_out":295`) {
		t.Errorf("the line after the window does not count the rest:\n%s", logs.String())
	}
}
