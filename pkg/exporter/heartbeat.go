package exporter

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/eventide/eventide/pkg/kube/event"
)

// HeartbeatReason is the reason of the synthetic heartbeat event.
const HeartbeatReason = "EventideHeartbeat"

// heartbeats sends a heartbeat event to the configuration's
// heartbeat.receivers every interval while this replica delivers (it leads)
// and its event watch is healthy, so an on-call tool that expects one
// (Alertmanager's Watchdog pattern, an Opsgenie heartbeat) notices when
// eventide or its watch dies. Heartbeats go to the named receivers only,
// past the routes and mutes, and hold no checkpoint (they have no
// resourceVersion). The settings are read each time: a reload applies.
func (e *Engine) heartbeats(ctx context.Context, rt enqueuer) {
	for {
		e.mu.Lock()
		hb, cfg := e.loaded.Config.Heartbeat, &e.loaded.Config
		cluster, extra := cfg.ClusterName, cfg.ExtraFields
		e.mu.Unlock()
		wait := time.Minute // look again for a heartbeat a reload adds
		if hb != nil {
			wait = hb.Interval
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		if hb == nil {
			continue
		}
		if !e.Ready() || !e.WatchFailingSince().IsZero() {
			e.m.Heartbeats.WithLabelValues("skipped_unhealthy").Inc()
			continue
		}
		ev := e.heartbeatEvent(time.Now(), cluster, extra)
		for _, r := range hb.Receivers {
			rt.Enqueue(r, ev)
		}
		e.m.Heartbeats.WithLabelValues("sent").Inc()
	}
}

// heartbeatEvent is one heartbeat: a Normal event about this replica,
// saying its version and that its watch is healthy.
func (e *Engine) heartbeatEvent(now time.Time, cluster string, extra map[string]string) *event.EnhancedEvent {
	host, _ := os.Hostname()
	ts := metav1.NewTime(now)
	uid := "heartbeat-" + strconv.FormatInt(now.UnixNano(), 10)
	ev := event.NewEnhancedEvent(&corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{Name: "eventide-heartbeat." + strconv.FormatInt(now.Unix(), 10), Namespace: e.ownNS, UID: types.UID(uid)},
		InvolvedObject: corev1.ObjectReference{Kind: "Eventide", Name: host, Namespace: e.ownNS},
		Reason:         HeartbeatReason, Type: corev1.EventTypeNormal,
		Message: fmt.Sprintf("eventide %s on %s is delivering; its event watch is healthy", e.version, host),
		Source:  corev1.EventSource{Component: "eventide", Host: host},
		Count:   1, FirstTimestamp: ts, LastTimestamp: ts,
	}, cluster)
	ev.Extra = extra
	ev.Received = now
	return ev
}
