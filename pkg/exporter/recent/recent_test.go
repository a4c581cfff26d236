package recent

import (
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/eventide/eventide/internal/testenv/testevent"
	"github.com/eventide/eventide/pkg/kube/event"
)

func named(name string) *event.EnhancedEvent {
	return testevent.Pod(func(e *event.EnhancedEvent) { e.InvolvedObject.Name = name })
}

// The ring keeps the last size events, newest first; an outcome for an
// event already overwritten is ignored, not written onto its successor.
func TestRingWrapsAndIgnoresOverwritten(t *testing.T) {
	r := New(3)
	var evs []*event.EnhancedEvent
	for _, n := range []string{"a", "b", "c", "d"} {
		ev := named(n)
		r.Add(ev, &Route{Routes: []string{"route"}, Receivers: []Delivery{{Receiver: "x", Outcome: Queued}}}, time.Now())
		evs = append(evs, ev)
	}
	r.Set(evs[0].Trace, "x", Delivered, "") // "a" is gone: its slot is "d"'s
	r.Set(evs[2].Trace, "x", DeadLettered, "http_4xx")
	r.Set(evs[2].Trace, "nobody", Delivered, "") // not routed there: ignored
	r.Set(0, "x", Delivered, "")
	got := r.Snapshot(Filter{}, 0)
	var names []string
	for _, e := range got {
		names = append(names, e.Name+"="+e.Receivers[0].Outcome)
	}
	if strings.Join(names, " ") != "d=queued c=dead_lettered b=queued" {
		t.Errorf("ring %v", names)
	}
	if len(got[1].Receivers) != 1 || got[1].Receivers[0].Detail != "http_4xx" {
		t.Errorf("c's outcome %+v", got[1].Receivers)
	}
	if f := r.Snapshot(Filter{Receiver: "x", Outcome: DeadLettered}, 0); len(f) != 1 || f[0].Name != "c" {
		t.Errorf("filtered %+v", f)
	}
	if f := r.Snapshot(Filter{}, 2); len(f) != 2 || f[0].Name != "d" {
		t.Errorf("limited %+v", f)
	}
	// A snapshot is a copy: changing it leaves the ring as it was.
	got[0].Receivers[0].Outcome = "changed"
	if r.Snapshot(Filter{}, 1)[0].Receivers[0].Outcome != Queued {
		t.Error("a snapshot shares the ring's slices")
	}
}

// A long message is cut on a rune boundary; the entry keeps a copy, not
// a slice of the event's message.
func TestRingCutsMessages(t *testing.T) {
	r := New(1)
	ev := named("a")
	ev.Message = strings.Repeat("é", MessageBytes) // 2 bytes each
	r.Add(ev, &Route{}, time.Now())
	msg := r.Snapshot(Filter{}, 0)[0].Message
	if len(msg) > MessageBytes || !utf8.ValidString(msg) || !strings.HasSuffix(msg, "…") {
		t.Errorf("cut message: %d bytes, valid %v", len(msg), utf8.ValidString(msg))
	}
}

// A full ring of events whose objects carry large labels and a 64 KiB
// message keeps none of them alive: the heap after a GC is what the
// entries' own copies take.
func TestRingKeepsNoEventAlive(t *testing.T) {
	r := New(DefaultSize)
	before := heap()
	for i := 0; i < DefaultSize; i++ {
		ev := named("pod")
		ev.Message = strings.Repeat("x", 64<<10) + strconv.Itoa(i) // its own allocation
		ev.InvolvedObject.Labels = map[string]string{"big": strings.Repeat("y", 64<<10)}
		ev.Group = &event.Group{Events: []*event.EnhancedEvent{named("other")}}
		r.Add(ev, &Route{Receivers: []Delivery{{Receiver: "a", Outcome: Queued}}}, time.Now())
	}
	held := heap() - before
	// Keeping an event, or a slice of its message, would be 500 × 64 KiB
	// (32 MiB) at least; the entries are a few hundred bytes each.
	if held > 2<<20 {
		t.Errorf("a full ring holds %d bytes of heap: it keeps events alive", held)
	}
	runtime.KeepAlive(r)
}

func heap() int64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}

// BenchmarkRingHeap reports the heap a full ring of ordinary events takes
// (a 120-byte message, two routes, four receivers).
func BenchmarkRingHeap(b *testing.B) {
	for b.Loop() {
		before := heap()
		r := New(DefaultSize)
		route := &Route{Routes: []string{"route", "route.routes[1]"}, Receivers: []Delivery{
			{Receiver: "slack", Outcome: Queued}, {Receiver: "archive", Outcome: Queued}, {Receiver: "pager", Outcome: Muted, Detail: "silenced by silence[0]"}, {Receiver: "metrics", Outcome: Queued}}}
		for i := 0; i < DefaultSize; i++ {
			ev := named("web-7d9f8c6b5-x2x4z")
			ev.Message = strings.Repeat("m", 120)
			r.Add(ev, route, time.Now())
		}
		b.ReportMetric(float64(heap()-before), "heap-bytes")
		runtime.KeepAlive(r)
	}
}

// BenchmarkAdd is the pipeline's cost per event with the status page on.
func BenchmarkAdd(b *testing.B) {
	r := New(DefaultSize)
	ev := named("web-1")
	route := &Route{Routes: []string{"route"}, Receivers: []Delivery{{Receiver: "slack", Outcome: Queued}, {Receiver: "archive", Outcome: Queued}}}
	for b.Loop() {
		r.Add(ev, route, time.Now())
		r.Set(ev.Trace, "slack", Delivered, "")
		r.Set(ev.Trace, "archive", Delivered, "")
	}
}
