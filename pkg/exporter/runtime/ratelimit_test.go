package runtime

import (
	"context"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/eventide/eventide/internal/testenv/testevent"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"gopkg.in/yaml.v3"

	"github.com/eventide/eventide/pkg/kube/event"
)

// timedSink records when each send came.
type timedSink struct {
	fakeSink
	at []time.Time
}

func (s *timedSink) Send(ctx context.Context, ev *event.EnhancedEvent) error {
	s.mu.Lock()
	s.at = append(s.at, time.Now())
	s.mu.Unlock()
	return s.fakeSink.Send(ctx, ev)
}

// delivery.rateLimit spreads the sends: 5 events at 2/s take 2 s, none is
// dropped, and the waits are counted.
func TestRateLimitPacesSends(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sink := &timedSink{}
		var d Delivery
		if err := yaml.Unmarshal([]byte("rateLimit: 2/s"), &d); err != nil {
			t.Fatal(err)
		}
		rt, m, _ := newTestRuntime(t, sink, d)
		for _, n := range []string{"a", "b", "c", "d", "e"} {
			rt.Enqueue("r", testevent.Named(n))
		}
		start := time.Now()
		drain(t, rt)
		if got := sink.delivered(); len(got) != 5 {
			t.Fatalf("delivered %v", got)
		}
		for i := 1; i < len(sink.at); i++ {
			if gap := sink.at[i].Sub(sink.at[i-1]); gap < 500*time.Millisecond {
				t.Errorf("send %d came %s after the one before; 2/s spaces them 500ms", i, gap)
			}
		}
		if took := sink.at[4].Sub(start); took != 2*time.Second {
			t.Errorf("5 sends at 2/s took %s, want 2s", took)
		}
		if n := testutil.ToFloat64(m.RateLimitWaits.WithLabelValues("r")); n != 4 {
			t.Errorf("%v waits counted, want 4", n)
		}
	})
}

func TestRateLimitParse(t *testing.T) {
	for in, want := range map[string]time.Duration{"1/s": time.Second, "20/min": 3 * time.Second, "100/h": 36 * time.Second, "4/m": 15 * time.Second} {
		var r RateLimit
		if err := yaml.Unmarshal([]byte(in), &r); err != nil || r.Every != want {
			t.Errorf("%s: %v %v, want %v", in, r.Every, err, want)
		}
	}
	for _, bad := range []string{"0/s", "1/day", "fast", "1", "-1/s"} {
		var r RateLimit
		if err := yaml.Unmarshal([]byte(bad), &r); err == nil || !strings.Contains(err.Error(), "not N/s") {
			t.Errorf("%s: %v", bad, err)
		}
	}
}
