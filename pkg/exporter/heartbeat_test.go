package exporter

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/eventide/eventide/pkg/exporter/config"
)

// With a fake clock (synctest: time.Sleep advances it): a heartbeat every
// interval to the named receivers only while the engine is healthy, none
// while it is not (counted as skipped), and again once it recovers.
func TestHeartbeatsFollowHealth(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l, err := config.Load([]byte(`
heartbeat: {interval: 1m, receivers: [pager]}
route: {match: [{receiver: archive}]}
receivers:
  - {name: pager, stdout: {}}
  - {name: archive, stdout: {}}
`), testLoadOptions(nil))
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		m := NewMetrics(prometheus.NewRegistry(), "eventide")
		e := &Engine{loaded: l, m: m, version: "v-test", ownNS: "monitoring"}
		e.ready.Store(true)
		got := &muteRecorder{}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { e.heartbeats(ctx, got); close(done) }()

		time.Sleep(3*time.Minute + time.Second)
		synctest.Wait()
		if len(got.got) != 3 {
			t.Fatalf("%d heartbeats in 3 minutes, want 3: %v", len(got.got), got.got)
		}
		for _, g := range got.got {
			if g[:len("pager:")] != "pager:" {
				t.Errorf("a heartbeat went to %s", g)
			}
		}
		e.ready.Store(false) // caches lost, or a standby: nothing to vouch for
		time.Sleep(2 * time.Minute)
		synctest.Wait()
		if len(got.got) != 3 || testutil.ToFloat64(m.Heartbeats.WithLabelValues("skipped_unhealthy")) != 2 {
			t.Errorf("while unhealthy: %d heartbeats, %v skipped; want 3 and 2", len(got.got),
				testutil.ToFloat64(m.Heartbeats.WithLabelValues("skipped_unhealthy")))
		}
		e.ready.Store(true)
		time.Sleep(time.Minute)
		synctest.Wait()
		if len(got.got) != 4 {
			t.Errorf("%d heartbeats after recovering, want 4", len(got.got))
		}
		cancel()
		<-done
	})
}
