package sinks

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/eventide/eventide/internal/testenv"
	"github.com/eventide/eventide/pkg/kube/event"
)

// The key is derived, so it is the same on every retry and after a
// restart, and differs where a repeat would not be one.
func TestIdempotencyKey(t *testing.T) {
	ev := testenv.SampleEvent()
	base := IdempotencyKey("hook", ev)
	again := *ev
	if IdempotencyKey("hook", &again) != base || len(base) != 32 {
		t.Fatalf("key %q not stable", base)
	}
	next := *ev
	next.Count++
	replayed := *ev
	replayed.Replay = "2026-12-02T10:00:00Z"
	group := *ev
	group.Group = &event.Group{Key: "shop/BackOff", Status: "new", Count: 3, FirstSeen: time.Unix(1, 0)}
	group2 := group
	group2.Group = &event.Group{Key: "shop/BackOff", Status: "update", Count: 5, FirstSeen: time.Unix(1, 0)}
	seen := map[string]string{base: "base"}
	for name, k := range map[string]string{
		"another receiver":  IdempotencyKey("other", ev),
		"next occurrence":   IdempotencyKey("hook", &next),
		"replay":            IdempotencyKey("hook", &replayed),
		"group":             IdempotencyKey("hook", &group),
		"next notification": IdempotencyKey("hook", &group2),
	} {
		if prev, dup := seen[k]; dup {
			t.Errorf("%s has the key of %s", name, prev)
		}
		seen[k] = name
	}
	if k := IdempotencyKey("hook", &replayed); !strings.HasPrefix(k, "replay-") {
		t.Errorf("a replay's key %q is not marked", k)
	}
	h := IdempotencyHeader("hook", ev)
	if h[0] != "Idempotency-Key" || h[1] != strconv.Quote(base) {
		t.Errorf("header %v: want the key as a quoted string", h)
	}
	if got := WithIdempotencyKey([][2]string{{"idempotency-key", "mine"}}, "hook", ev); len(got) != 1 {
		t.Errorf("a user's own Idempotency-Key header was doubled: %v", got)
	}
}
