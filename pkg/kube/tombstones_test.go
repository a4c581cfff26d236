package kube

import (
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"
)

// The count bound wins over the age bound: the oldest deletion goes first
// even when it is younger than maxAge; an expired tombstone is not
// answered. Both evictions are counted.
func TestTombstoneBounds(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	evicted := map[string]int{}
	ts := newTombstones(2, time.Hour, func(r string) { evicted[r]++ }, func() time.Time { return now })
	key := func(name string) objectKey { return objectKey{gvr: podsGVR, namespace: "ns", name: name} }
	obj := func(uid string) *storedObject {
		return &storedObject{uid: types.UID("u-" + uid)}
	}
	ts.put(key("a"), obj("a"))
	ts.put(key("b"), obj("b"))
	ts.put(key("c"), obj("c")) // a is evicted for capacity, a minute old at most
	if ts.get(key("a"), "") != nil || ts.get(key("b"), "") == nil || evicted["capacity"] != 1 {
		t.Fatalf("after a third put: a kept or b lost (evicted %v)", evicted)
	}
	if ts.get(key("b"), "u-other") != nil {
		t.Error("a tombstone answered for another UID")
	}
	now = now.Add(time.Hour + time.Second)
	if ts.get(key("b"), "") != nil || evicted["age"] != 1 {
		t.Errorf("expired tombstone answered (evicted %v)", evicted)
	}
	ts.put(key("d"), obj("d")) // sweeps c, also expired
	if ts.len() != 1 || evicted["age"] != 2 {
		t.Errorf("%d kept, evicted %v: want only d", ts.len(), evicted)
	}
}
