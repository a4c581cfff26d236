package exporter

// Shutdown rules.
//
// Delivery ends in one of three ways, and each ends it differently:
//
//   - a signal (SIGTERM, SIGINT): the watch stops, the events already taken
//     from it are routed, and every receiver delivers what it holds (memory
//     queue, spool, sends in flight) for up to the drain timeout. Then
//     sends still in flight are cancelled and what is left is counted as
//     dropped (reason shutdown): it is still pending in the checkpoint, so
//     it is sent after the restart. The final checkpoint is written last.
//   - the watch failed to start: the same as a signal; the process then
//     exits with status 1.
//   - the Lease was lost: another replica may already be sending, so
//     nothing more is sent and no checkpoint is written. The new leader
//     resumes from the last checkpoint written (at most checkpoint.interval
//     of events are sent twice).

import (
	"context"
	"sync"
	"time"

	"github.com/eventide/eventide/pkg/exporter/runtime"

	"github.com/eventide/eventide/pkg/kube"
)

// finalCheckpointTimeout bounds the last checkpoint write after the drain.
const finalCheckpointTimeout = 5 * time.Second

// shutdownParts are the running parts of delivery, stopped in this order.
type shutdownParts struct {
	watcher          *kube.EventWatcher
	pipeline         *Pipeline
	pipelineDone     *sync.WaitGroup
	runtime          *runtime.Runtime
	checkpointer     *checkpointer
	checkpointerDone *sync.WaitGroup
}

// stopsGracefully says whether delivery, now ending, drains and writes its
// checkpoint: yes after a signal or a watch that failed to start; no only
// when the Lease was lost.
func stopsGracefully(lead, signal context.Context) bool {
	return signal.Err() != nil || lead.Err() == nil
}

// shutdown stops delivery after its context ended, by the rules above.
func (e *Engine) shutdown(lead, signal context.Context, p shutdownParts) {
	graceful := stopsGracefully(lead, signal)
	drain := e.drain
	if graceful {
		e.log.Info().Dur("drain_timeout", drain).Msg("shutting down: draining receivers")
	} else {
		drain = 0
		e.log.Error().Msg("leadership lost: stopping delivery at once; the new leader resumes from the checkpoint")
	}
	p.watcher.Shutdown()
	p.pipeline.Close()
	p.pipelineDone.Wait()
	drainCtx, cancel := context.WithTimeout(context.WithoutCancel(lead), drain)
	p.runtime.Shutdown(drainCtx)
	cancel()
	p.checkpointerDone.Wait()
	if graceful {
		// What was delivered during the drain is not sent again next time.
		saveCtx, cancel := context.WithTimeout(context.WithoutCancel(lead), finalCheckpointTimeout)
		p.checkpointer.save(saveCtx)
		cancel()
	}
}
