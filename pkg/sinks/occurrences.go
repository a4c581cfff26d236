package sinks

import (
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"github.com/eventide/eventide/pkg/kube/event"
)

// Occurrences turns an Event object's cumulative count into what each
// update adds, as grouping counts them: a first sighting is 1, an update
// is its count's increase over the last one seen. Added answers the same
// (UID, count) asked again the same (a retried batch re-renders a point
// with the value it had); New answers it 0 (a counter must not count a
// re-sent update twice). Memory is bounded: an Event
// object not updated for OccurrenceTTL is forgotten (the API server keeps
// events an hour), and at MaxOccurrenceUIDs the oldest half goes; a
// forgotten object seen again counts 1.
type Occurrences struct {
	mu   sync.Mutex
	seen map[types.UID]occurrence
	now  func() time.Time
}

type occurrence struct {
	count int32
	added int64
	at    time.Time
}

// Bounds of Occurrences.
const (
	OccurrenceTTL     = time.Hour
	MaxOccurrenceUIDs = 200_000 // about 100 bytes each: 20 MB at most
)

// NewOccurrences is an empty Occurrences.
func NewOccurrences() *Occurrences {
	return &Occurrences{seen: map[types.UID]occurrence{}, now: time.Now}
}

// Added is how many occurrences ev's update adds, the same each time it
// is asked.
func (o *Occurrences) Added(ev *event.EnhancedEvent) int64 { return o.add(ev, true) }

// New is how many occurrences ev adds that were not counted before: 0 for
// an update seen already.
func (o *Occurrences) New(ev *event.EnhancedEvent) int64 { return o.add(ev, false) }

func (o *Occurrences) add(ev *event.EnhancedEvent, again bool) int64 {
	if ev.UID == "" {
		return 1 // hand-written: nothing to compare with
	}
	count := max(ev.GetCount(), 1)
	o.mu.Lock()
	defer o.mu.Unlock()
	now := o.now()
	prev, ok := o.seen[ev.UID]
	switch {
	case ok && count == prev.count && again:
		return prev.added // asked again
	case ok && count == prev.count:
		return 0
	case ok && count < prev.count:
		return 0 // an older update arriving late: already counted
	}
	added := int64(1)
	if ok {
		added = int64(count - prev.count)
	} else if len(o.seen) >= MaxOccurrenceUIDs {
		o.shrink(now)
	}
	o.seen[ev.UID] = occurrence{count: count, added: added, at: now}
	return added
}

// shrink forgets what is older than OccurrenceTTL and, when that is not
// enough, the older half.
func (o *Occurrences) shrink(now time.Time) {
	cut := now.Add(-OccurrenceTTL)
	for uid, e := range o.seen {
		if e.at.Before(cut) {
			delete(o.seen, uid)
		}
	}
	if len(o.seen) < MaxOccurrenceUIDs*9/10 {
		return
	}
	var oldest, newest time.Time
	for _, e := range o.seen {
		if oldest.IsZero() || e.at.Before(oldest) {
			oldest = e.at
		}
		if e.at.After(newest) {
			newest = e.at
		}
	}
	mid := oldest.Add(newest.Sub(oldest) / 2)
	for uid, e := range o.seen {
		if !e.at.After(mid) {
			delete(o.seen, uid)
		}
	}
}
