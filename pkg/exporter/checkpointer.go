package exporter

import (
	"context"
	"fmt"
	"time"

	"github.com/eventide/eventide/pkg/exporter/config"

	"github.com/eventide/eventide/pkg/kube"
	"github.com/rs/zerolog"
)

// checkpointer restores the receivers' checkpoints at start and writes them
// to the cluster at most once per checkpoint.interval, only when they moved.
// With checkpoints off it does nothing and tracks nothing.
type checkpointer struct {
	store    *kube.CheckpointStore // nil: checkpoints off
	file     *checkpointFile       // nil: no spool folder to keep it in
	t        *Tracker
	m        *Metrics
	log      zerolog.Logger
	interval time.Duration
	last     string
	lastSave time.Time // of the ConfigMap
}

// newCheckpointer loads the stored checkpoints and tracks the named
// receivers from them.
func (e *Engine) newCheckpointer(ctx context.Context, cfg *config.Config, receivers []string) (*checkpointer, error) {
	c := &checkpointer{m: e.m, log: e.log, interval: cfg.Checkpoint.Interval}
	if !cfg.Checkpoint.On() {
		return c, nil
	}
	ns := cfg.Checkpoint.Namespace
	if ns == "" {
		ns = e.ownNS
	}
	store, err := kube.NewCheckpointStore(e.restCfg, ns, cfg.Checkpoint.Name)
	if err != nil {
		return nil, fmt.Errorf("cannot build the checkpoint store: %w", err)
	}
	saved, err := store.Load(ctx)
	if err != nil {
		return nil, fmt.Errorf("cannot read checkpoints (grant get/create/update on configmaps in eventide's namespace, or set checkpoint.enabled: false): %w", err)
	}
	c.file = newCheckpointFile(cfg.Spool.Dir, ns+"/"+cfg.Checkpoint.Name)
	if c.file != nil {
		local, err := c.file.load(store.UID())
		if err != nil {
			e.log.Warn().Err(err).Msg("cannot read the local checkpoint file; resuming from the ConfigMap")
		}
		saved = laterOf(saved, local)
	}
	restored := 0
	for _, r := range receivers {
		if len(saved[r]) > 0 {
			restored++
		}
	}
	c.store, c.t = store, NewTracker(receivers, len(cfg.Namespace) > 1, saved)
	e.log.Info().Str("configmap", ns+"/"+cfg.Checkpoint.Name).Int("receivers_restored", restored).Msg("checkpoints loaded")
	return c, nil
}

// tracker is what the pipeline and the runtime report to; nil when off.
func (c *checkpointer) tracker() *Tracker { return c.t }

func (c *checkpointer) run(ctx context.Context) {
	if c.store == nil {
		return
	}
	tick := c.interval
	if c.file != nil {
		tick = min(tick, checkpointFileInterval)
	}
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			if c.file != nil {
				c.saveFile()
			}
			if now.Sub(c.lastSave) >= c.interval-tick/2 {
				c.lastSave = now
				c.save(ctx)
			}
		}
	}
}

// saveFile writes the local mirror; a failure is logged at debug level
// (the ConfigMap still holds what matters) and retried next tick.
func (c *checkpointer) saveFile() {
	if err := c.file.save(c.t.Checkpoints(), c.store.UID()); err != nil {
		c.log.Debug().Err(err).Msg("cannot write the local checkpoint file")
	}
}

func (c *checkpointer) save(ctx context.Context) {
	if c.store == nil {
		return
	}
	if c.file != nil {
		c.saveFile()
	}
	cps := c.t.Checkpoints()
	for r := range cps {
		c.m.CheckpointLag.WithLabelValues(r).Set(float64(c.t.Pending(r)))
	}
	key := fmt.Sprint(cps)
	if key == c.last {
		return
	}
	if err := c.store.Save(ctx, cps); err != nil {
		c.m.CheckpointWrites.WithLabelValues("error").Inc()
		c.log.Warn().Err(err).Msg("cannot write checkpoints; retrying next interval")
		return
	}
	c.m.CheckpointWrites.WithLabelValues("ok").Inc()
	c.last = key
}
