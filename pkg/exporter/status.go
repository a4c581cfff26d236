package exporter

import (
	"time"

	"k8s.io/client-go/tools/leaderelection"

	"github.com/eventide/eventide/pkg/exporter/config"
	"github.com/eventide/eventide/pkg/exporter/grouping"
	"github.com/eventide/eventide/pkg/exporter/runtime"
)

// What the status page (internal/statuspage) reads of the engine.

// Status is the engine now.
type Status struct {
	// Delivering: this replica watches and delivers (it leads, or there
	// is no leader election).
	Delivering     bool
	LeaderElection bool
	// Identity is this replica's in the election, Leader the Lease's
	// holder as last observed ("" before any), Lease namespace/name.
	Identity, Leader, Lease string
	CachesSynced            bool
	// WatchFailingSince is when the watch started failing (zero while it
	// works); WatchLastSuccess when it was last known to work.
	WatchFailingSince, WatchLastSuccess time.Time
	Receivers                           []ReceiverStatus
}

// ReceiverStatus is one receiver: from the configuration in force, and
// from its worker while delivering (Running).
type ReceiverStatus struct {
	Name, Type string
	Running    bool
	runtime.ReceiverStatus
}

// election is the leader election's state.
type election struct {
	elector         *leaderelection.LeaderElector
	identity, lease string
}

// Status is the engine's state now.
func (e *Engine) Status() Status {
	e.mu.Lock()
	loaded, live := e.loaded, e.live
	e.mu.Unlock()
	st := Status{Delivering: live != nil, CachesSynced: live != nil && e.ready.Load(), WatchFailingSince: e.WatchFailingSince()}
	if ns := e.watchOK.Load(); ns != 0 {
		st.WatchLastSuccess = time.Unix(0, ns)
	}
	if el := e.election.Load(); el != nil {
		st.LeaderElection, st.Identity, st.Leader, st.Lease = true, el.identity, el.elector.GetLeader(), el.lease
	}
	for _, r := range loaded.Receivers {
		rs := ReceiverStatus{Name: r.Name, Type: r.Type}
		if live != nil {
			rs.ReceiverStatus, rs.Running = live.runtime.Status(r.Name)
		}
		st.Receivers = append(st.Receivers, rs)
	}
	return st
}

// Groups are the named grouping receiver's groups; nil while not
// delivering or when it does not group.
func (e *Engine) Groups(receiver string) []grouping.View {
	e.mu.Lock()
	live := e.live
	e.mu.Unlock()
	if live == nil {
		return nil
	}
	return live.runtime.Groups(receiver)
}

// Config is the configuration in force.
func (e *Engine) Config() *config.Loaded {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.loaded
}
