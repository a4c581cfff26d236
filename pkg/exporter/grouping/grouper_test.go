package grouping

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/eventide/eventide/pkg/kube/event"
	"github.com/eventide/eventide/pkg/sinks"
)

// call is one notification the sink got.
type call struct {
	op     string // post, update, send
	ref    string
	at     time.Time
	status string
	count  int64
}

// recorder is a sink that records what it is asked; fail, when set,
// answers instead.
type recorder struct {
	mu    sync.Mutex
	calls []call
	fail  func(op string) error
	posts int
}

func (r *recorder) record(op, ref string, ev *event.EnhancedEvent) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail != nil {
		if err := r.fail(op); err != nil {
			return err
		}
	}
	r.calls = append(r.calls, call{op: op, ref: ref, at: time.Now(), status: ev.Group.Status, count: ev.Group.Count})
	return nil
}

func (r *recorder) Send(_ context.Context, ev *event.EnhancedEvent) error {
	return r.record("send", "", ev)
}
func (r *recorder) Close() error { return nil }

func (r *recorder) Calls() []call {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]call(nil), r.calls...)
}

// editor is a recorder that can edit its messages.
type editor struct{ recorder }

func (e *editor) Post(_ context.Context, ev *event.EnhancedEvent) (string, error) {
	e.mu.Lock()
	e.posts++
	ref := fmt.Sprintf("msg-%d", e.posts)
	e.mu.Unlock()
	return ref, e.record("post", ref, ev)
}

func (e *editor) Update(_ context.Context, ref string, ev *event.EnhancedEvent) error {
	return e.record("update", ref, ev)
}

// acks records the grouper's acknowledgements.
type acks struct {
	mu   sync.Mutex
	done map[string]error
}

func (a *acks) ack(ev *event.EnhancedEvent, err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, dup := a.done[ev.Name]; dup {
		panic("acknowledged twice: " + ev.Name)
	}
	a.done[ev.Name] = err
}

func (a *acks) get(name string) (error, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	err, ok := a.done[name]
	return err, ok
}

func testMetrics() Metrics {
	counters := map[string]prometheus.Counter{}
	for _, s := range Statuses {
		counters[s] = prometheus.NewCounter(prometheus.CounterOpts{Name: "n_" + s})
	}
	return Metrics{Grouped: prometheus.NewCounter(prometheus.CounterOpts{Name: "g"}),
		Notifications: func(s string) prometheus.Counter { return counters[s] },
		Active:        prometheus.NewGauge(prometheus.GaugeOpts{Name: "a"}),
		Evicted:       prometheus.NewCounter(prometheus.CounterOpts{Name: "e"})}
}

// start builds a Grouper over sink inside the test's bubble.
func start(t *testing.T, sink sinks.Sink, cfg Config) (*Grouper, *acks) {
	t.Helper()
	cfg, err := cfg.Check("group")
	if err != nil {
		t.Fatal(err)
	}
	g := New(sink, cfg, Options{Ctx: t.Context(), Log: zerolog.Nop(), Metrics: testMetrics(),
		Timeout: time.Second, InitialBackoff: time.Second, MaxBackoff: 8 * time.Second})
	a := &acks{done: map[string]error{}}
	g.SetAck(a.ack)
	t.Cleanup(func() { _ = g.Close() })
	return g, a
}

// occurrence is the count-th occurrence of Event object uid about pod.
func occurrence(uid, pod string, count int32) *event.EnhancedEvent {
	ev := &event.EnhancedEvent{}
	ev.Name = fmt.Sprintf("%s#%d", uid, count)
	ev.UID = types.UID(uid)
	ev.Namespace, ev.Reason, ev.Count = "shop", "BackOff", count
	ev.LastTimestamp = metav1.NewTime(time.Now())
	ev.InvolvedObject.Kind, ev.InvolvedObject.Namespace, ev.InvolvedObject.Name = "Pod", "shop", pod
	return ev
}

func send(t *testing.T, g *Grouper, evs ...*event.EnhancedEvent) []error {
	t.Helper()
	return g.SendBatch(t.Context(), evs)
}

// The first event waits `wait` for more; then one notification counts
// them all, and only then are they acknowledged.
func TestWaitThenOneNotification(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sink := &editor{}
		g, a := start(t, sink, Config{By: []string{"namespace", "reason"}, Wait: 30 * time.Second})
		send(t, g, occurrence("e1", "api-1", 1))
		time.Sleep(10 * time.Second)
		send(t, g, occurrence("e2", "api-2", 1), occurrence("e1", "api-1", 2))
		time.Sleep(19 * time.Second)
		synctest.Wait()
		if c := sink.Calls(); len(c) != 0 {
			t.Fatalf("notified before wait: %v", c)
		}
		if _, ok := a.get("e1#1"); ok {
			t.Fatal("acknowledged before its notification")
		}
		time.Sleep(time.Second)
		synctest.Wait()
		c := sink.Calls()
		if len(c) != 1 || c[0].op != "post" || c[0].status != StatusNew || c[0].count != 3 {
			t.Fatalf("calls %+v, want one new post counting 3", c)
		}
		for _, name := range []string{"e1#1", "e2#1", "e1#2"} {
			if err, ok := a.get(name); !ok || err != nil {
				t.Errorf("%s: acknowledged %v with %v", name, ok, err)
			}
		}
	})
}

// Events every second: the message is edited at most once per interval;
// a re-sent occurrence is not counted again and is acknowledged at once.
func TestUpdatesAtMostOncePerInterval(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sink := &editor{}
		g, a := start(t, sink, Config{By: []string{"reason"}, Wait: time.Second, Interval: 3 * time.Second})
		for i := int32(1); i <= 20; i++ {
			send(t, g, occurrence("e1", "api-1", i))
			time.Sleep(time.Second)
		}
		if errs := send(t, g, occurrence("e1", "api-1", 5)); errs[0] != nil {
			t.Errorf("a re-sent occurrence was kept: %v", errs[0])
		}
		time.Sleep(10 * time.Second)
		synctest.Wait()
		c := sink.Calls()
		if c[0].op != "post" {
			t.Fatalf("first call %+v", c[0])
		}
		for i := 1; i < len(c); i++ {
			if c[i].op != "update" || c[i].ref != "msg-1" || c[i].status != StatusUpdate {
				t.Errorf("call %d: %+v, want an update of msg-1", i, c[i])
			}
			if gap := c[i].at.Sub(c[i-1].at); gap < 3*time.Second {
				t.Errorf("call %d came %s after the one before, under the interval", i, gap)
			}
		}
		if last := c[len(c)-1]; last.count != 20 || len(c) > 8 {
			t.Errorf("%d calls, last counts %d; want at most 8, counting 20", len(c), last.count)
		}
		if _, ok := a.get("e1#20"); !ok {
			t.Error("the last occurrence was not acknowledged")
		}
	})
}

// After repeatInterval with events still coming, a fresh message; after
// expireAfter without events, a last edit says the group went quiet, and
// the next event starts a new group.
func TestRepeatAndQuiet(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sink := &editor{}
		g, _ := start(t, sink, Config{By: []string{"reason"}, Wait: time.Second, Interval: 10 * time.Second,
			RepeatInterval: time.Minute, ExpireAfter: 5 * time.Minute})
		for i := int32(1); i <= 80; i++ {
			send(t, g, occurrence("e1", "api-1", i))
			time.Sleep(time.Second)
		}
		time.Sleep(6 * time.Minute)
		synctest.Wait()
		var ops []string
		for _, c := range sink.Calls() {
			ops = append(ops, c.op+":"+c.status+":"+c.ref)
		}
		want := "post:new:msg-1 update:update:msg-1 update:update:msg-1 update:update:msg-1 update:update:msg-1 update:update:msg-1 " +
			"post:repeat:msg-2 update:update:msg-2 update:update:msg-2 update:quiet:msg-2"
		if got := fmt.Sprint(ops); got != "["+want+"]" {
			t.Errorf("calls\n %s\nwant\n [%s]", got, want)
		}
		send(t, g, occurrence("e1", "api-1", 81))
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if c := sink.Calls(); c[len(c)-1].op != "post" || c[len(c)-1].status != StatusNew || c[len(c)-1].count != 1 {
			t.Errorf("after the group ended: %+v, want a new group", c[len(c)-1])
		}
	})
}

// A retryable failure keeps the events and tries again after a backoff;
// a permanent one fails them, for the dead letter.
func TestFailures(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sink := &editor{}
		failures := 2
		sink.fail = func(string) error {
			if failures > 0 {
				failures--
				return sinks.Retryable(sinks.ClassHTTP5xx, errors.New("503"), 0)
			}
			return nil
		}
		g, a := start(t, sink, Config{By: []string{"reason"}, Wait: time.Second})
		send(t, g, occurrence("e1", "api-1", 1))
		time.Sleep(2 * time.Second) // wait, then the first failure
		synctest.Wait()
		if _, ok := a.get("e1#1"); ok {
			t.Fatal("acknowledged after a retryable failure")
		}
		time.Sleep(3 * time.Second) // backoff 1s, fails again; 2s, succeeds
		synctest.Wait()
		if err, ok := a.get("e1#1"); !ok || err != nil || len(sink.Calls()) != 1 {
			t.Fatalf("after retries: acknowledged %v (%v), %d calls", ok, err, len(sink.Calls()))
		}

		sink.fail = func(string) error { return sinks.Permanent(sinks.ClassNoChannel, errors.New("no channel")) }
		send(t, g, occurrence("e2", "api-2", 1))
		time.Sleep(10 * time.Minute)
		synctest.Wait()
		if err, ok := a.get("e2#1"); !ok || err == nil {
			t.Errorf("permanent failure: acknowledged %v with %v, want the error", ok, err)
		}
	})
}

// An edit of a message that is gone posts a new one.
func TestGoneMessagePostsAnew(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sink := &editor{}
		sink.fail = func(op string) error {
			if op == "update" {
				return sinks.Permanent(sinks.ClassRejected, errors.New("message_not_found"))
			}
			return nil
		}
		g, _ := start(t, sink, Config{By: []string{"reason"}, Wait: time.Second, Interval: 2 * time.Second})
		send(t, g, occurrence("e1", "api-1", 1))
		time.Sleep(3 * time.Second)
		send(t, g, occurrence("e1", "api-1", 2))
		time.Sleep(3 * time.Second)
		synctest.Wait()
		c := sink.Calls()
		if len(c) != 2 || c[1].op != "post" || c[1].ref != "msg-2" || c[1].status != StatusUpdate {
			t.Errorf("calls %+v, want a second post", c)
		}
	})
}

// A sink that cannot edit gets one notification per interval; Flush
// sends what waits at once.
func TestSendOnlySinkAndFlush(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sink := &recorder{}
		g, a := start(t, sink, Config{By: []string{"reason"}, Wait: time.Minute})
		send(t, g, occurrence("e1", "api-1", 1), occurrence("e2", "api-2", 1))
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		g.Flush(ctx)
		cancel()
		c := sink.Calls()
		if len(c) != 1 || c[0].op != "send" || c[0].count != 2 {
			t.Fatalf("calls %+v, want one send counting 2", c)
		}
		if _, ok := a.get("e2#1"); !ok {
			t.Error("flush did not acknowledge")
		}
	})
}

// Past maxGroups, the group idle longest ends.
func TestMaxGroups(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sink := &editor{}
		g, _ := start(t, sink, Config{By: []string{"name"}, Wait: time.Second, MaxGroups: 2})
		for i := 0; i < 3; i++ {
			send(t, g, occurrence(fmt.Sprint("e", i), fmt.Sprint("pod-", i), 1))
			time.Sleep(2 * time.Second)
			synctest.Wait()
		}
		g.mu.Lock()
		_, first := g.groups["pod-0"]
		n := len(g.groups)
		g.mu.Unlock()
		if first || n != 2 {
			t.Errorf("%d groups, first kept %v; want 2, the first ended", n, first)
		}
	})
}

func TestCheck(t *testing.T) {
	_, err := Config{By: []string{"reason", "labels.owner", "Reason", "reason"}, Interval: time.Hour, RepeatInterval: time.Minute, Wait: -1}.Check("receivers[0].group")
	for _, want := range []string{`by[2]: "Reason" is not an event field`, `by[3]: "reason" is listed twice`, "repeatInterval: 1m0s is shorter", "wait: must not be negative"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v lacks %q", err, want)
		}
	}
	if _, err := (Config{}).Check("g"); err == nil || !strings.Contains(err.Error(), "g.by: required") {
		t.Errorf("empty by: %v", err)
	}
}

// memStore is a Store in memory; fail, when set, refuses saves.
type memStore struct {
	mu   sync.Mutex
	data []byte
	fail bool
}

func (m *memStore) Save(_ context.Context, b []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail {
		return errors.New("configmaps is forbidden")
	}
	m.data = append([]byte(nil), b...)
	return nil
}

func (m *memStore) Budget() int { return 1 << 20 }

func (m *memStore) get() []byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.data
}

// With a store, events are acknowledged once the state counting them is
// stored; a new Grouper from that state (a restart, a new leader) edits
// the same message, and a re-sent occurrence is not counted again.
func TestStateSurvivesRestart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sink := &editor{}
		store := &memStore{fail: true}
		cfg, _ := Config{By: []string{"reason"}, Wait: time.Second, Interval: 3 * time.Second}.Check("group")
		opts := Options{Ctx: t.Context(), Log: zerolog.Nop(), Metrics: testMetrics(), Timeout: time.Second,
			InitialBackoff: time.Second, MaxBackoff: time.Second, Store: store}
		first := New(sink, cfg, opts)
		a := &acks{done: map[string]error{}}
		first.SetAck(a.ack)
		send(t, first, occurrence("e1", "api-1", 1), occurrence("e1", "api-1", 2))
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if _, ok := a.get("e1#2"); ok || len(sink.Calls()) != 1 {
			t.Fatalf("acknowledged %v before the state was stored (%d calls)", ok, len(sink.Calls()))
		}
		store.mu.Lock()
		store.fail = false
		store.mu.Unlock()
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if _, ok := a.get("e1#2"); !ok {
			t.Fatal("not acknowledged once the state was stored")
		}
		// A crash: the next one starts from the store.
		_ = first.Close()
		opts.Restored = store.get()
		second := New(sink, cfg, opts)
		b := &acks{done: map[string]error{}}
		second.SetAck(b.ack)
		defer second.Close()
		if errs := send(t, second, occurrence("e1", "api-1", 2)); errs[0] != nil {
			t.Errorf("a stored occurrence sent again was kept: %v", errs[0])
		}
		send(t, second, occurrence("e1", "api-1", 3))
		time.Sleep(4 * time.Second)
		synctest.Wait()
		c := sink.Calls()
		if len(c) != 2 || c[1].op != "update" || c[1].ref != "msg-1" || c[1].count != 3 {
			t.Errorf("after the restart: %+v, want an update of msg-1 counting 3", c)
		}
	})
}

// Events without a UID (hand-written, replayed) each count once.
func TestEventsWithoutUIDCount(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sink := &editor{}
		g, _ := start(t, sink, Config{By: []string{"reason"}, Wait: time.Second})
		for i := 0; i < 3; i++ {
			ev := occurrence("", "api-1", 1)
			ev.Name = fmt.Sprint("hand-written-", i)
			if errs := send(t, g, ev); errs[0] == nil {
				t.Fatalf("event %d without a UID taken for a re-send", i)
			}
		}
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if c := sink.Calls(); len(c) != 1 || c[0].count != 3 {
			t.Errorf("calls %+v, want one counting 3", c)
		}
	})
}
