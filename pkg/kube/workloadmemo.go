package kube

import (
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"github.com/eventide/eventide/pkg/kube/event"
)

// workloadMemoTTL is how long the workload found above a controller is
// reused. A controller changes hands (orphaned, adopted) rarely; after such
// a change its pods' events show the new workload within this time.
const workloadMemoTTL = 30 * time.Second

// workloadMemo maps a controller's UID to the top workload above it, for
// ttl, and holds at most max entries (when full, it starts afresh).
type workloadMemo struct {
	mu      sync.Mutex
	max     int
	ttl     time.Duration
	entries map[types.UID]workloadEntry
}

type workloadEntry struct {
	top *event.WorkloadReference
	at  time.Time
}

func newWorkloadMemo(max int, ttl time.Duration) *workloadMemo {
	return &workloadMemo{max: max, ttl: ttl, entries: map[types.UID]workloadEntry{}}
}

func (m *workloadMemo) get(uid types.UID, now time.Time) (*event.WorkloadReference, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.entries[uid]
	if !ok || now.Sub(e.at) >= m.ttl {
		return nil, false
	}
	return e.top, true
}

func (m *workloadMemo) put(uid types.UID, top *event.WorkloadReference, now time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.entries) >= m.max {
		clear(m.entries)
	}
	m.entries[uid] = workloadEntry{top: top, at: now}
}
