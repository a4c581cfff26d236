package runtime

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/rs/zerolog"

	"github.com/eventide/eventide/internal/testenv/testevent"
	"github.com/eventide/eventide/pkg/exporter/grouping"
	"github.com/eventide/eventide/pkg/kube/event"
	"github.com/eventide/eventide/pkg/sinks"
)

// chat is an editable sink (a Slack channel): Post and Update answer from
// fail (nil: delivered), wait on hold while it is set, and record what
// they were asked and how many calls were in flight at once.
type chat struct {
	mu       sync.Mutex
	calls    []string // post:count or update:ref:count
	fail     func() error
	hold     chan struct{}
	inflight int
	maxIn    int
	posts    int
}

func (c *chat) call(ctx context.Context, op string, ev *event.EnhancedEvent) error {
	c.mu.Lock()
	c.inflight++
	c.maxIn = max(c.maxIn, c.inflight)
	hold, fail := c.hold, c.fail
	c.mu.Unlock()
	defer func() { c.mu.Lock(); c.inflight--; c.mu.Unlock() }()
	if hold != nil {
		select {
		case <-hold:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if fail != nil {
		if err := fail(); err != nil {
			return err
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls = append(c.calls, fmt.Sprintf("%s:%d", op, ev.Group.Count))
	return nil
}

func (c *chat) Send(ctx context.Context, ev *event.EnhancedEvent) error {
	return c.call(ctx, "send", ev)
}
func (c *chat) Close() error { return nil }

func (c *chat) Post(ctx context.Context, ev *event.EnhancedEvent) (string, error) {
	if err := c.call(ctx, "post", ev); err != nil {
		return "", err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.posts++
	return fmt.Sprint("msg-", c.posts), nil
}

func (c *chat) Update(ctx context.Context, ref string, ev *event.EnhancedEvent) error {
	return c.call(ctx, "update:"+ref, ev)
}

func (c *chat) got() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.calls...)
}

// memGroups is GroupStores in memory; while failing is set, saves fail.
type memGroups struct {
	mu      sync.Mutex
	data    map[string][]byte
	failing bool
}

func (m *memGroups) ForReceiver(name string) (grouping.Store, []byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return memGroup{m, name}, m.data[name]
}

func (m *memGroups) setFailing(f bool) { m.mu.Lock(); m.failing = f; m.mu.Unlock() }

type memGroup struct {
	m    *memGroups
	name string
}

func (g memGroup) Save(_ context.Context, b []byte) error {
	g.m.mu.Lock()
	defer g.m.mu.Unlock()
	if g.m.failing {
		return errors.New("configmaps is forbidden")
	}
	g.m.data[g.name] = b
	return nil
}

func (g memGroup) Budget() int { return 1 << 20 }

// groupRuntime runs grouping receivers on their sinks (by name), grouped
// by reason, wait 10s, interval 1m.
func groupRuntime(t *testing.T, d Delivery, opts Options, sinksByName map[string]sinks.Sink) (*Runtime, *Metrics) {
	t.Helper()
	d, errs := d.WithDefaults("test")
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	cfg, err := grouping.Config{By: []string{"reason"}, Wait: 10 * time.Second, Interval: time.Minute}.Check("group")
	if err != nil {
		t.Fatal(err)
	}
	var rs []Receiver
	for name, s := range sinksByName {
		rs = append(rs, Receiver{Name: name, Delivery: d, Sink: s, Group: &cfg})
	}
	m := NewMetrics(prometheus.NewRegistry(), "")
	rt, err := NewRuntime(rs, m, zerolog.Nop(), opts)
	if err != nil {
		t.Fatal(err)
	}
	rt.Start()
	return rt, m
}

func enqueueN(rt *Runtime, receiver, prefix string, n int) {
	for i := range n {
		rt.Enqueue(receiver, testevent.Named(fmt.Sprint(prefix, i)))
	}
}

// Absorbed events stay pending until the notification counting them is
// delivered and the group state saying so is stored.
func TestGroupedEventsPendingUntilStateStored(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sink := &chat{}
		tr := &doneTracker{}
		store := &memGroups{data: map[string][]byte{}, failing: true}
		rt, _ := groupRuntime(t, Delivery{}, Options{Tracker: tr, Groups: store}, map[string]sinks.Sink{"r": sink})
		defer stopWithin(rt, time.Minute)
		enqueueN(rt, "r", "a", 3)
		time.Sleep(9 * time.Second)
		synctest.Wait()
		if len(sink.got()) != 0 || tr.count() != 0 {
			t.Fatalf("before wait: %v sent, %d done", sink.got(), tr.count())
		}
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if got := sink.got(); len(got) != 1 || got[0] != "post:3" {
			t.Fatalf("calls %v, want one post counting 3", got)
		}
		if n := tr.count(); n != 0 {
			t.Fatalf("%d events finished while the group state could not be stored", n)
		}
		store.setFailing(false)
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if n := tr.count(); n != 3 {
			t.Errorf("%d events finished once the state was stored, want 3", n)
		}
	})
}

// A notification that fails for good dead-letters each event it counted;
// maxRetries bounds its retries, and a Retry-After is capped by
// maxRetryAfter, as for any event.
func TestGroupNotificationRetriesLikeEvents(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sink := &chat{fail: func() error {
			return sinks.Retryable(sinks.ClassRateLimited, errors.New("429"), time.Hour)
		}}
		tr := &doneTracker{}
		rt, m := groupRuntime(t, Delivery{MaxRetries: 2, MaxRetryAfter: time.Minute}, Options{Tracker: tr},
			map[string]sinks.Sink{"r": sink})
		var sleeps []time.Duration
		w := rt.workers["r"]
		w.sleep = func(ctx context.Context, d time.Duration) error {
			sleeps = append(sleeps, d)
			return sleepCtx(ctx, d)
		}
		enqueueN(rt, "r", "a", 4)
		time.Sleep(time.Hour)
		synctest.Wait()
		stopWithin(rt, time.Minute)
		if fmt.Sprint(sleeps) != "[1m0s 1m0s]" {
			t.Errorf("waits %v, want two retries of one minute each (a Retry-After of 1h capped by maxRetryAfter)", sleeps)
		}
		if got := testutil.ToFloat64(m.Retried.WithLabelValues("r", string(sinks.ClassRateLimited))); got != 2 {
			t.Errorf("%v retries counted, want 2", got)
		}
		if got := testutil.ToFloat64(m.Failed.WithLabelValues("r", string(sinks.ClassRateLimited))); got != 4 {
			t.Errorf("%v failed events counted, want the notification's 4", got)
		}
		if n := testutil.ToFloat64(m.DeadLetters.WithLabelValues("r")); n != 4 || tr.count() != 4 {
			t.Errorf("%v dead letters, %d events finished; want 4 each", n, tr.count())
		}
	})
}

// At most one notification per group is in flight: events that arrive
// while the post is held wait for it, then edit the posted message. A
// notification is not in the queue: events dropped from a full queue
// meanwhile take nothing from it.
func TestOneNotificationPerGroupInFlight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		hold := make(chan struct{})
		sink := &chat{hold: hold}
		tr := &doneTracker{}
		rt, m := groupRuntime(t, Delivery{QueueSize: 2, Timeout: time.Hour}, Options{Tracker: tr}, map[string]sinks.Sink{"r": sink})
		defer stopWithin(rt, time.Minute)
		enqueueN(rt, "r", "a", 2)
		time.Sleep(11 * time.Second) // the post is due, and held
		synctest.Wait()
		enqueueN(rt, "r", "b", 5) // three are dropped: the queue holds 2
		time.Sleep(5 * time.Minute)
		synctest.Wait()
		sink.mu.Lock()
		sink.hold = nil
		sink.mu.Unlock()
		close(hold)
		time.Sleep(2 * time.Minute)
		synctest.Wait()
		if got := fmt.Sprint(sink.got()); got != "[post:2 update:msg-1:4]" {
			t.Errorf("calls %s, want the held post counting 2, then an edit of it counting the 2 queued", got)
		}
		if sink.maxIn != 1 {
			t.Errorf("%d calls in flight at once, want 1", sink.maxIn)
		}
		if d := testutil.ToFloat64(m.Dropped.WithLabelValues("r", DropQueueFull)); d != 3 || tr.count() != 7 {
			t.Errorf("%v dropped, %d finished; want 3 dropped and all 7 finished", d, tr.count())
		}
	})
}

// One receiver's stuck notification does not hold another's back.
func TestGroupsOfOneReceiverDoNotSlowAnother(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		stuck := &chat{hold: make(chan struct{})}
		fine := &chat{}
		rt, _ := groupRuntime(t, Delivery{Timeout: time.Hour}, Options{}, map[string]sinks.Sink{"stuck": stuck, "fine": fine})
		enqueueN(rt, "stuck", "a", 3)
		enqueueN(rt, "fine", "a", 3)
		time.Sleep(11 * time.Second)
		synctest.Wait()
		enqueueN(rt, "fine", "b", 2)
		time.Sleep(time.Minute)
		synctest.Wait()
		if got := fmt.Sprint(fine.got()); got != "[post:3 update:msg-1:5]" {
			t.Errorf("the healthy receiver sent %s while the other was stuck", got)
		}
		stopWithin(rt, time.Second)
	})
}

// A draining receiver sends what its groups keep at once, before it stops.
func TestDrainFlushesGroups(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sink := &chat{}
		tr := &doneTracker{}
		rt, _ := groupRuntime(t, Delivery{}, Options{Tracker: tr}, map[string]sinks.Sink{"r": sink})
		enqueueN(rt, "r", "a", 3)
		synctest.Wait()
		stopWithin(rt, time.Minute)
		if got := fmt.Sprint(sink.got()); got != "[post:3]" || tr.count() != 3 {
			t.Errorf("calls %s, %d finished; want one post counting 3, all finished", got, tr.count())
		}
	})
}

// stopWithin shuts rt down, giving it d to drain.
func stopWithin(rt *Runtime, d time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	rt.Shutdown(ctx)
}

// A reload that keeps grouping keeps the groups; one that removes it
// delivers the events the groups held, one by one, through the new sink.
func TestReloadKeepsOrReleasesGroups(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		first, second := &chat{}, &chat{}
		tr := &doneTracker{}
		rt, _ := groupRuntime(t, Delivery{}, Options{Tracker: tr}, map[string]sinks.Sink{"r": first})
		defer stopWithin(rt, time.Minute)
		enqueueN(rt, "r", "a", 2)
		synctest.Wait()
		d, _ := Delivery{}.WithDefaults("test")
		cfg, _ := grouping.Config{By: []string{"namespace"}, Wait: 10 * time.Second}.Check("group")
		rt.Replace(Receiver{Name: "r", Delivery: d, Sink: second, Group: &cfg})
		time.Sleep(11 * time.Second)
		synctest.Wait()
		if got := fmt.Sprint(second.got()); got != "[post:2]" || len(first.got()) != 0 {
			t.Fatalf("after a reload that keeps grouping: new sink %s, old %v; want the group's post on the new sink", got, first.got())
		}
		enqueueN(rt, "r", "b", 3)
		synctest.Wait()
		plain := &fakeSink{}
		rt.Replace(Receiver{Name: "r", Delivery: d, Sink: plain})
		synctest.Wait()
		if got := plain.delivered(); len(got) != 3 || tr.count() != 5 {
			t.Errorf("after grouping was removed: %v delivered, %d finished; want the 3 kept events, all 5 finished", got, tr.count())
		}
	})
}
