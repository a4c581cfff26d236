package grouping

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
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
	now   *time.Time // the test's clock
}

func (r *recorder) setClock(now *time.Time) { r.now = now }

func (r *recorder) record(op, ref string, ev *event.EnhancedEvent) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail != nil {
		if err := r.fail(op); err != nil {
			return err
		}
	}
	r.calls = append(r.calls, call{op: op, ref: ref, at: *r.now, status: ev.Group.Status, count: ev.Group.Count})
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

// clock drives a Grouper as the receiver's worker does, on a fake
// clock: absorb, then deliver every notification due, with its outcome.
type clock struct {
	t     *testing.T
	g     *Grouper
	sink  sinks.Sink
	now   time.Time
	acked map[string]error // events done with: nil delivered, else failed
}

func start(t *testing.T, sink sinks.Sink, cfg Config) *clock {
	t.Helper()
	return startWith(t, sink, cfg, Options{Log: zerolog.Nop(), Metrics: testMetrics()})
}

func startWith(t *testing.T, sink sinks.Sink, cfg Config, opts Options) *clock {
	t.Helper()
	cfg, err := cfg.Check("group")
	if err != nil {
		t.Fatal(err)
	}
	c := &clock{t: t, g: New(cfg, opts), sink: sink, now: time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC), acked: map[string]error{}}
	if r, ok := sink.(interface{ setClock(*time.Time) }); ok {
		r.setClock(&c.now)
	}
	return c
}

// send absorbs evs and reports which were kept (the others, re-sends,
// the worker delivers at once).
func (c *clock) send(evs ...*event.EnhancedEvent) []bool {
	kept := make([]bool, len(evs))
	for i, ev := range evs {
		kept[i] = c.g.Absorb(ev, c.now)
	}
	c.run()
	return kept
}

// advance moves the clock by d, a second at a time, delivering what falls due.
func (c *clock) advance(d time.Duration) {
	for end := c.now.Add(d); c.now.Before(end); {
		c.now = c.now.Add(time.Second)
		c.run()
	}
}

// run delivers the notifications due now and saves the state.
func (c *clock) run() {
	_, canEdit := c.sink.(sinks.Updater)
	for n := c.g.Take(c.now, canEdit); n != nil; n = c.g.Take(c.now, canEdit) {
		ref, err := n.Deliver(c.t.Context(), c.sink)
		for _, ev := range c.g.Finish(n, ref, err, c.now) {
			c.ack(ev, err)
		}
	}
	done, _ := c.g.Save(c.t.Context(), c.now)
	for _, ev := range done {
		c.ack(ev, nil)
	}
}

func (c *clock) ack(ev *event.EnhancedEvent, err error) {
	if _, dup := c.acked[ev.Name]; dup {
		c.t.Fatalf("acknowledged twice: %s", ev.Name)
	}
	c.acked[ev.Name] = err
}

func (c *clock) get(name string) (error, bool) {
	err, ok := c.acked[name]
	return err, ok
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

// The first event waits `wait` for more; then one notification counts
// them all, and only then are they acknowledged.
func TestWaitThenOneNotification(t *testing.T) {
	sink := &editor{}
	c := start(t, sink, Config{By: []string{"namespace", "reason"}, Wait: 30 * time.Second})
	c.send(occurrence("e1", "api-1", 1))
	c.advance(10 * time.Second)
	c.send(occurrence("e2", "api-2", 1), occurrence("e1", "api-1", 2))
	c.advance(19 * time.Second)
	if calls := sink.Calls(); len(calls) != 0 {
		t.Fatalf("notified before wait: %v", calls)
	}
	if _, ok := c.get("e1#1"); ok {
		t.Fatal("acknowledged before its notification")
	}
	c.advance(time.Second)
	calls := sink.Calls()
	if len(calls) != 1 || calls[0].op != "post" || calls[0].status != StatusNew || calls[0].count != 3 {
		t.Fatalf("calls %+v, want one new post counting 3", calls)
	}
	for _, name := range []string{"e1#1", "e2#1", "e1#2"} {
		if err, ok := c.get(name); !ok || err != nil {
			t.Errorf("%s: acknowledged %v with %v", name, ok, err)
		}
	}
}

// Events every second: the message is edited at most once per interval;
// a re-sent occurrence is not counted again and is acknowledged at once.
func TestUpdatesAtMostOncePerInterval(t *testing.T) {
	sink := &editor{}
	c := start(t, sink, Config{By: []string{"reason"}, Wait: time.Second, Interval: 3 * time.Second})
	for i := int32(1); i <= 20; i++ {
		c.send(occurrence("e1", "api-1", i))
		c.advance(time.Second)
	}
	if kept := c.send(occurrence("e1", "api-1", 5)); kept[0] {
		t.Error("a re-sent occurrence was kept")
	}
	c.advance(10 * time.Second)
	calls := sink.Calls()
	if calls[0].op != "post" {
		t.Fatalf("first call %+v", calls[0])
	}
	for i := 1; i < len(calls); i++ {
		if calls[i].op != "update" || calls[i].ref != "msg-1" || calls[i].status != StatusUpdate {
			t.Errorf("call %d: %+v, want an update of msg-1", i, calls[i])
		}
		if gap := calls[i].at.Sub(calls[i-1].at); gap < 3*time.Second {
			t.Errorf("call %d came %s after the one before, under the interval", i, gap)
		}
	}
	if last := calls[len(calls)-1]; last.count != 20 || len(calls) > 8 {
		t.Errorf("%d calls, last counts %d; want at most 8, counting 20", len(calls), last.count)
	}
	if _, ok := c.get("e1#20"); !ok {
		t.Error("the last occurrence was not acknowledged")
	}
}

// After repeatInterval with events still coming, a fresh message; after
// expireAfter without events, a last edit says the group went quiet, and
// the next event starts a new group.
func TestRepeatAndQuiet(t *testing.T) {
	sink := &editor{}
	c := start(t, sink, Config{By: []string{"reason"}, Wait: time.Second, Interval: 10 * time.Second,
		RepeatInterval: time.Minute, ExpireAfter: 5 * time.Minute})
	for i := int32(1); i <= 80; i++ {
		c.send(occurrence("e1", "api-1", i))
		c.advance(time.Second)
	}
	c.advance(6 * time.Minute)
	var ops []string
	for _, call := range sink.Calls() {
		ops = append(ops, call.op+":"+call.status+":"+call.ref)
	}
	want := "post:new:msg-1 update:update:msg-1 update:update:msg-1 update:update:msg-1 update:update:msg-1 update:update:msg-1 " +
		"post:repeat:msg-2 update:update:msg-2 update:update:msg-2 update:quiet:msg-2"
	if got := fmt.Sprint(ops); got != "["+want+"]" {
		t.Errorf("calls\n %s\nwant\n [%s]", got, want)
	}
	c.send(occurrence("e1", "api-1", 81))
	c.advance(2 * time.Second)
	if calls := sink.Calls(); calls[len(calls)-1].op != "post" || calls[len(calls)-1].status != StatusNew || calls[len(calls)-1].count != 1 {
		t.Errorf("after the group ended: %+v, want a new group", calls[len(calls)-1])
	}
}

// A notification that fails for good returns its events, for the dead
// letter; one that is returned (its retries cut short) keeps them, in
// front, due at once; at most one notification per group is taken.
func TestFailedAndReturnedNotifications(t *testing.T) {
	c := start(t, &editor{}, Config{By: []string{"reason"}, Wait: time.Second})
	c.g.Absorb(occurrence("e1", "api-1", 1), c.now)
	c.now = c.now.Add(time.Second)
	n := c.g.Take(c.now, true)
	if n == nil || len(n.Events) != 1 {
		t.Fatalf("took %+v, want the notification counting e1#1", n)
	}
	c.g.Absorb(occurrence("e1", "api-1", 2), c.now)
	if again := c.g.Take(c.now.Add(time.Hour), true); again != nil {
		t.Fatalf("a second notification of the group taken while one is in flight: %+v", again)
	}
	c.g.Return(n, c.now)
	n = c.g.Take(c.now, true)
	if n == nil || len(n.Events) != 2 || n.Events[0].Name != "e1#1" || n.Event.Group.Count != 2 {
		t.Fatalf("after a return: %+v, want both events, the returned first, counting 2", n)
	}
	failed := c.g.Finish(n, "", sinks.Permanent(sinks.ClassNoChannel, errors.New("no channel")), c.now)
	if len(failed) != 2 {
		t.Errorf("a permanent failure returned %d events, want both for the dead letter", len(failed))
	}
	if !c.g.Idle() {
		t.Error("not idle once the notification failed for good")
	}
}

// An edit of a message that is gone posts a new one.
func TestGoneMessagePostsAnew(t *testing.T) {
	sink := &editor{}
	sink.fail = func(op string) error {
		if op == "update" {
			return sinks.Permanent(sinks.ClassRejected, errors.New("message_not_found"))
		}
		return nil
	}
	c := start(t, sink, Config{By: []string{"reason"}, Wait: time.Second, Interval: 2 * time.Second})
	c.send(occurrence("e1", "api-1", 1))
	c.advance(3 * time.Second)
	c.send(occurrence("e1", "api-1", 2))
	c.advance(3 * time.Second)
	calls := sink.Calls()
	if len(calls) != 2 || calls[1].op != "post" || calls[1].ref != "msg-2" || calls[1].status != StatusUpdate {
		t.Errorf("calls %+v, want a second post", calls)
	}
}

// A sink that cannot edit gets a new message each time; Flush makes
// what waits due at once.
func TestSendOnlySinkAndFlush(t *testing.T) {
	sink := &recorder{}
	c := start(t, sink, Config{By: []string{"reason"}, Wait: time.Minute})
	c.send(occurrence("e1", "api-1", 1), occurrence("e2", "api-2", 1))
	if c.g.Idle() {
		t.Fatal("idle while events wait")
	}
	c.g.Flush()
	if next := c.g.Next(c.now); !next.Equal(c.now) {
		t.Errorf("flushing: next due %v, want now", next)
	}
	c.run()
	calls := sink.Calls()
	if len(calls) != 1 || calls[0].op != "send" || calls[0].count != 2 {
		t.Fatalf("calls %+v, want one send counting 2", calls)
	}
	if _, ok := c.get("e2#1"); !ok || !c.g.Idle() {
		t.Error("flush did not acknowledge")
	}
}

// Past maxGroups, the group idle longest ends.
func TestMaxGroups(t *testing.T) {
	c := start(t, &editor{}, Config{By: []string{"name"}, Wait: time.Second, MaxGroups: 2})
	for i := 0; i < 3; i++ {
		c.send(occurrence(fmt.Sprint("e", i), fmt.Sprint("pod-", i), 1))
		c.advance(2 * time.Second)
	}
	if _, first := c.g.groups["pod-0"]; first || len(c.g.groups) != 2 {
		t.Errorf("%d groups, first kept %v; want 2, the first ended", len(c.g.groups), first)
	}
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
	sink := &editor{}
	store := &memStore{fail: true}
	opts := Options{Log: zerolog.Nop(), Metrics: testMetrics(), Store: store}
	cfg := Config{By: []string{"reason"}, Wait: time.Second, Interval: 3 * time.Second}
	first := startWith(t, sink, cfg, opts)
	first.send(occurrence("e1", "api-1", 1), occurrence("e1", "api-1", 2))
	first.advance(2 * time.Second)
	if _, ok := first.get("e1#2"); ok || len(sink.Calls()) != 1 {
		t.Fatalf("acknowledged %v before the state was stored (%d calls)", ok, len(sink.Calls()))
	}
	if first.g.Idle() {
		t.Error("idle while the state is not stored")
	}
	store.fail = false
	first.advance(2 * time.Second)
	if _, ok := first.get("e1#2"); !ok {
		t.Fatal("not acknowledged once the state was stored")
	}
	// A crash: the next one starts from the store.
	opts.Restored = store.get()
	second := startWith(t, sink, cfg, opts)
	second.now = first.now
	if kept := second.send(occurrence("e1", "api-1", 2)); kept[0] {
		t.Error("a stored occurrence sent again was kept")
	}
	second.send(occurrence("e1", "api-1", 3))
	second.advance(4 * time.Second)
	calls := sink.Calls()
	if len(calls) != 2 || calls[1].op != "update" || calls[1].ref != "msg-1" || calls[1].count != 3 {
		t.Errorf("after the restart: %+v, want an update of msg-1 counting 3", calls)
	}
}

// Events without a UID (hand-written, replayed) each count once.
func TestEventsWithoutUIDCount(t *testing.T) {
	sink := &editor{}
	c := start(t, sink, Config{By: []string{"reason"}, Wait: time.Second})
	for i := 0; i < 3; i++ {
		ev := occurrence("", "api-1", 1)
		ev.Name = fmt.Sprint("hand-written-", i)
		if kept := c.send(ev); !kept[0] {
			t.Fatalf("event %d without a UID taken for a re-send", i)
		}
	}
	c.advance(2 * time.Second)
	if calls := sink.Calls(); len(calls) != 1 || calls[0].count != 3 {
		t.Errorf("calls %+v, want one counting 3", calls)
	}
}
