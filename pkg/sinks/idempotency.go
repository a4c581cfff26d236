package sinks

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"

	"github.com/eventide/eventide/pkg/kube/event"
)

// IdempotencyKey is what receiver sends with ev so that the other end can
// recognise a repeat: the same on every retry and after a restart (it is
// derived, not remembered), different for every receiver, occurrence and
// grouped notification.
//
//   - an event: the receiver, the Event's UID and its count;
//   - a hand-written event without a UID: its namespace, name, count and
//     time;
//   - a grouped notification: the group's key and start, and the
//     notification's status and count;
//   - a replayed event (eventide replay): a new key each run, marked
//     "replay-", since a replay is sent on purpose.
func IdempotencyKey(receiver string, ev *event.EnhancedEvent) string {
	h := sha256.New()
	part := func(s string) {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	part(receiver)
	switch {
	case ev.Group != nil:
		part("group")
		part(ev.Group.Key)
		part(ev.Group.FirstSeen.UTC().Format("2006-01-02T15:04:05.999999999Z"))
		part(ev.Group.Status)
		part(strconv.FormatInt(ev.Group.Count, 10))
	case ev.UID != "":
		part(string(ev.UID))
		part(strconv.Itoa(int(ev.GetCount())))
	default:
		part(ev.Namespace)
		part(ev.Name)
		part(strconv.Itoa(int(ev.GetCount())))
		part(ev.GetLastTime().UTC().Format("2006-01-02T15:04:05.999999999Z"))
	}
	prefix := ""
	if ev.Replay != "" {
		part("replay")
		part(ev.Replay)
		prefix = "replay-"
	}
	return prefix + hex.EncodeToString(h.Sum(nil)[:16])
}

// IdempotencyHeader is the Idempotency-Key header's value for ev: the key
// as a quoted string, as the IETF draft (a structured-field string)
// defines it.
func IdempotencyHeader(receiver string, ev *event.EnhancedEvent) [2]string {
	return [2]string{"Idempotency-Key", strconv.Quote(IdempotencyKey(receiver, ev))}
}

// WithIdempotencyKey is headers plus ev's Idempotency-Key, unless the
// user's headers set one of their own.
func WithIdempotencyKey(headers [][2]string, receiver string, ev *event.EnhancedEvent) [][2]string {
	for _, h := range headers {
		if strings.EqualFold(h[0], "Idempotency-Key") {
			return headers
		}
	}
	return append(headers, IdempotencyHeader(receiver, ev))
}
