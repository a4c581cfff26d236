package exporter

// Leadership rules.
//
// With leaderElection.enabled, replicas campaign for a Lease in eventide's
// own namespace; only the leader watches and delivers. A standby is ready
// (/readyz answers ok) while it waits.
//
//   - On SIGTERM the leader drains, writes its checkpoint, and only then
//     releases the Lease, so the standby starts exactly where it stopped.
//   - A standby that gets SIGTERM stops campaigning and exits 0.
//   - A leader that loses the Lease (it could not renew it in time) stops
//     sending at once and exits with status 1 (ErrLeadershipLost), to be
//     restarted as a standby: another replica may already lead.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync/atomic"

	"github.com/eventide/eventide/pkg/exporter/config"

	"github.com/eventide/eventide/pkg/kube"
)

// ErrLeadershipLost is Run's error when the Lease was lost while leading.
var ErrLeadershipLost = errors.New("leadership lost")

// runWithLeaderElection campaigns for the Lease and delivers while it leads.
func (e *Engine) runWithLeaderElection(signal context.Context, le config.LeaderElectionConfig) error {
	identity := fmt.Sprintf("%s_%d", hostname(), os.Getpid())
	electorCtx, stopElector := context.WithCancel(context.WithoutCancel(signal))
	defer stopElector()
	var (
		leading   atomic.Bool
		delivered = make(chan error, 1)
	)
	elector, err := kube.NewLeaderElector(e.restCfg, kube.LeaderElectionOptions{
		Namespace: e.ownNS, Name: le.LeaderElectionID, Identity: identity,
		LeaseDuration: le.LeaseDuration, RenewDeadline: le.RenewDeadline, RetryPeriod: le.RetryPeriod,
		OnStartedLeading: func(lead context.Context) {
			leading.Store(true)
			e.m.Leader.Set(1)
			e.log.Info().Str("identity", identity).Msg("leading: delivering events")
			err := e.deliver(lead, signal)
			e.m.Leader.Set(0)
			delivered <- err
			stopElector() // release the Lease only now
		},
	})
	if err != nil {
		return fmt.Errorf("cannot set up leader election: %w", err)
	}
	e.election.Store(&election{elector: elector, identity: identity, lease: e.ownNS + "/" + le.LeaderElectionID})
	go func() {
		<-signal.Done()
		if !leading.Load() {
			stopElector()
		}
	}()
	e.ready.Store(true) // a standby is healthy
	e.log.Info().Str("lease", e.ownNS+"/"+le.LeaderElectionID).Str("identity", identity).Msg("standing by for leadership")
	elector.Run(electorCtx)
	if !leading.Load() {
		return nil
	}
	err = <-delivered
	if err == nil && signal.Err() == nil {
		return ErrLeadershipLost
	}
	return err
}

func hostname() string {
	h, err := os.Hostname()
	if err != nil {
		return "eventide"
	}
	return h
}
