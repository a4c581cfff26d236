package testenv

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"
	"time"
)

// SyncBuffer is a bytes.Buffer that eventide writes to and a test reads,
// safely at the same time.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// PollUntil calls cond every interval until it is true or ctx ends.
func PollUntil(ctx context.Context, interval time.Duration, cond func() bool) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			return fmt.Errorf("condition not met: %w", ctx.Err())
		case <-t.C:
		}
	}
	return nil
}

// ExactlyOnceSettle is how long a receiver must get nothing new before
// ExactlyOnce counts: late duplicates (a redelivery after a restart or a
// failover) arrive within it.
const ExactlyOnceSettle = 3 * time.Second

// ExactlyOnce waits until every name was delivered to rec, then until rec
// got nothing new for ExactlyOnceSettle, and returns how many deliveries
// were duplicates. A lost event fails the test. nameOf reads the event
// names one request carries.
func ExactlyOnce(t *testing.T, rec *Recorder, names []string, nameOf func(Request) []string) (dups int) {
	t.Helper()
	want := make(map[string]bool, len(names))
	for _, n := range names {
		want[n] = true
	}
	counts := func(reqs []Request) map[string]int {
		c := map[string]int{}
		for _, r := range reqs {
			for _, n := range nameOf(r) {
				if want[n] {
					c[n]++
				}
			}
		}
		return c
	}
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	_, err := rec.WaitFor(ctx, func(r []Request) bool { return len(counts(r)) == len(want) })
	if err == nil {
		seen, since := len(rec.Requests()), time.Now()
		err = PollUntil(ctx, 100*time.Millisecond, func() bool {
			if n := len(rec.Requests()); n != seen {
				seen, since = n, time.Now()
			}
			return time.Since(since) >= ExactlyOnceSettle
		})
	}
	c := counts(rec.Requests())
	lost := 0
	for n := range want {
		switch k := c[n]; {
		case k == 0:
			lost++
		case k > 1:
			dups += k - 1
		}
	}
	if err != nil || lost > 0 {
		t.Fatalf("%d of %d events lost (%v)", lost, len(names), err)
	}
	return dups
}

// Eventually polls cond every 2ms for up to 10s and fails the test,
// naming what it waited for, when cond never held.
func Eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := PollUntil(ctx, 2*time.Millisecond, cond); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}
