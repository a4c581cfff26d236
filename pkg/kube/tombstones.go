package kube

import (
	"container/list"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
)

// tombstones keeps the last metadata of deleted objects, so events that
// arrive after the deletion (a pod's last events, a Job's after its
// clean-up) still carry the labels, owners and workload the routes need.
//
// Bounds: at most max objects and maxAge after the deletion. maxAge
// defaults to one hour, the API server's default event TTL: an event about
// an object deleted longer ago is itself gone. When both bite, the count
// wins: the oldest deletion is evicted first, even if younger than maxAge.
// Evictions are counted by reason (capacity, age). Tombstones live in memory
// only: after a restart, events about objects deleted before it have no
// labels (they are marked deleted).
type tombstones struct {
	mu      sync.Mutex
	max     int
	maxAge  time.Duration
	byKey   map[objectKey]*list.Element
	order   *list.List // of *tombstone, oldest deletion first
	onEvict func(reason string)
	now     func() time.Time
}

type tombstone struct {
	key objectKey
	obj *storedObject
	at  time.Time
}

func newTombstones(max int, maxAge time.Duration, onEvict func(string), now func() time.Time) *tombstones {
	if onEvict == nil {
		onEvict = func(string) {}
	}
	return &tombstones{max: max, maxAge: maxAge, byKey: map[objectKey]*list.Element{}, order: list.New(),
		onEvict: onEvict, now: now}
}

// put records obj's deletion.
func (t *tombstones) put(k objectKey, obj *storedObject) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if e, ok := t.byKey[k]; ok {
		t.order.Remove(e)
	}
	now := t.now()
	t.byKey[k] = t.order.PushBack(&tombstone{key: k, obj: obj, at: now})
	for t.order.Len() > t.max {
		t.evict(t.order.Front(), "capacity")
	}
	for e := t.order.Front(); e != nil && now.Sub(e.Value.(*tombstone).at) > t.maxAge; e = t.order.Front() {
		t.evict(e, "age")
	}
}

func (t *tombstones) evict(e *list.Element, reason string) {
	ts := t.order.Remove(e).(*tombstone)
	delete(t.byKey, ts.key)
	t.onEvict(reason)
}

// get returns the deleted object k, if it is remembered and, when uid is
// set, has that UID.
func (t *tombstones) get(k objectKey, uid types.UID) *storedObject {
	t.mu.Lock()
	defer t.mu.Unlock()
	e, ok := t.byKey[k]
	if !ok {
		return nil
	}
	ts := e.Value.(*tombstone)
	if t.now().Sub(ts.at) > t.maxAge {
		t.evict(e, "age")
		return nil
	}
	if uid != "" && ts.obj.uid != uid {
		return nil
	}
	return ts.obj
}

// len is how many tombstones are kept.
func (t *tombstones) len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.order.Len()
}
