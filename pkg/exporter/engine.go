// Package exporter is the engine: it runs eventide from a checked
// configuration (pkg/exporter/config) to delivered events. engine.go is
// its lifecycle (New, Run, the leader loop in leadership.go, shutdown.go);
// pipeline.go takes the watched events through enrichment (lookup.go:
// events waiting for a lookup), the route tree and muting
// (pkg/exporter/route) to the receivers' runtime (pkg/exporter/runtime);
// tracker.go, checkpointer.go and checkpointfile.go are the checkpoints,
// groupstate.go the grouping receivers' state in the cluster, reload.go
// what a new configuration changes while it runs, metrics.go the metrics.
// Data flows one way: watch -> enrich -> route -> mute -> runtime -> sink.
package exporter

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/eventide/eventide/pkg/exporter/config"
	"github.com/eventide/eventide/pkg/exporter/recent"
	"github.com/eventide/eventide/pkg/exporter/runtime"

	"github.com/rs/zerolog"
	"k8s.io/client-go/rest"

	"github.com/eventide/eventide/pkg/kube"
)

// Engine owns the pipeline end to end: the watch and enrichment, the route
// tree, the receiver runtime, checkpoints, the leader loop, drain and
// shutdown. Data flows one way: watch -> enrich -> route -> runtime -> sink.
type Engine struct {
	mu     sync.Mutex     // guards loaded, live and deliveryOwnsSinks; serialises reloads
	loaded *config.Loaded // the configuration in force
	live   *running       // set while delivering
	// deliveryOwnsSinks: a delivery (deliver, then its runtime) took the
	// sinks of loaded and closes them; else the engine does.
	deliveryOwnsSinks bool

	restCfg  *rest.Config
	log      zerolog.Logger
	m        *Metrics
	drain    time.Duration
	ownNS    string
	version  string
	onReady  func()
	ready    atomic.Bool
	watcher  atomic.Pointer[kube.EventWatcher] // while delivering
	enricher Enricher
	recent   *recent.Ring
	// For the status page: when the watch was last known to work (unix
	// nanoseconds), and the leader election's state.
	watchOK  atomic.Int64
	election atomic.Pointer[election]
}

// Options are what the engine gets from the process.
type Options struct {
	// Config is the loaded configuration; the engine closes its sinks when
	// Run returns.
	Config *config.Loaded
	// REST is the API server's client configuration.
	REST *rest.Config
	Log  zerolog.Logger
	// Metrics are registered by the caller, who serves them.
	Metrics *Metrics
	// DrainTimeout is how long receivers may deliver what they hold after
	// a signal (see shutdown.go).
	DrainTimeout time.Duration
	// Namespace is eventide's own: its checkpoint ConfigMap and its Lease.
	Namespace string
	// OnReady, when set, is called once the event caches synced.
	OnReady func()
	// Version is eventide's, for the heartbeat.
	Version string
	// Recent, when set, records the events routed and what became of
	// them (the status page).
	Recent *recent.Ring
}

// New checks opts; Run starts the engine.
func New(opts Options) (*Engine, error) {
	if opts.Config == nil || opts.REST == nil || opts.Metrics == nil {
		return nil, errors.New("engine: Config, REST and Metrics are required")
	}
	return &Engine{loaded: opts.Config, restCfg: opts.REST, log: opts.Log, m: opts.Metrics,
		drain: opts.DrainTimeout, ownNS: opts.Namespace, onReady: opts.OnReady, version: opts.Version, recent: opts.Recent}, nil
}

// WatchFailingSince is when the event watch started failing without
// recovering; zero while it works or when not watching.
func (e *Engine) WatchFailingSince() time.Time {
	if w := e.watcher.Load(); w != nil {
		return w.FailingSince()
	}
	return time.Time{}
}

// Ready reports whether the engine serves: its event caches synced, or it is
// a healthy standby waiting for the Lease.
func (e *Engine) Ready() bool { return e.ready.Load() }

// Run watches, routes and delivers until ctx ends (SIGTERM), then drains
// and writes the final checkpoint. With leader election it only delivers
// while it holds the Lease. The error says why it stopped early: the watch
// failed to start, the Lease was lost, or a part could not be built.
func (e *Engine) Run(ctx context.Context) error {
	defer func() {
		e.mu.Lock()
		if !e.deliveryOwnsSinks {
			e.loaded.Close()
		}
		e.mu.Unlock()
	}()
	e.mu.Lock()
	cfg := e.loaded.Config // its restart-only keys never change
	receivers := len(e.loaded.Receivers)
	e.mu.Unlock()
	e.m.ConfigReceivers.Set(float64(receivers))
	if !cfg.OmitLookup {
		mc, err := kube.NewMetadataCache(ctx, e.restCfg, e.log, kube.MetadataCacheOptions{
			Namespaces:       cfg.Namespace,
			MaxDeleted:       cfg.CacheSize,
			Services:         cfg.Enrich.Services,
			Annotations:      cfg.Enrich.Annotations,
			OnLookup:         counterByLabel(e.m.EnrichLookups, kube.LookupResults...),
			OnTombstoneEvict: func(r string) { e.m.TombstoneEvictions.WithLabelValues(r).Inc() },
		})
		if err != nil {
			return fmt.Errorf("cannot build the metadata cache: %w", err)
		}
		mc.Start(ctx) // before the watch, so the first events find the caches filled
		e.enricher = mc
	}
	e.log.Info().Strs("namespaces", cfg.Namespace).Int("receivers", receivers).
		Bool("enrichment", e.enricher != nil).Bool("leader_election", cfg.LeaderElection.Enabled).
		Msg("eventide starting")
	defer e.ready.Store(false)
	if cfg.LeaderElection.Enabled {
		return e.runWithLeaderElection(ctx, cfg.LeaderElection)
	}
	e.m.Leader.Set(1)
	return e.deliver(ctx, ctx)
}

// deliver watches, routes and sends until lead or signal ends; see
// shutdown.go for what happens then.
func (e *Engine) deliver(lead, signal context.Context) error {
	// From here delivery owns loaded's sinks: the runtime closes them at
	// shutdown, or this function if it fails before there is a runtime.
	e.mu.Lock()
	loaded := e.loaded
	e.deliveryOwnsSinks = true
	e.mu.Unlock()
	var rt *runtime.Runtime
	defer func() {
		if rt == nil {
			loaded.Close()
		}
	}()
	cfg := &loaded.Config
	ctx, stop := context.WithCancel(lead)
	defer stop()
	go func() {
		select {
		case <-signal.Done():
			stop()
		case <-ctx.Done():
		}
	}()
	names := make([]string, len(loaded.Receivers))
	for i, r := range loaded.Receivers {
		names[i] = r.Name
	}
	cp, err := e.newCheckpointer(ctx, cfg, names)
	if err != nil {
		return err
	}
	groups, err := e.newGroupStates(ctx, cfg)
	if err != nil {
		return err
	}
	var deadLetter *runtime.DeadLetter
	if cfg.DeadLetter.Path != "-" {
		if deadLetter, err = runtime.NewDeadLetter(cfg.DeadLetter.Path, cfg.DeadLetter.MaxSizeMB); err != nil {
			return fmt.Errorf("cannot open the dead-letter file: %w", err)
		}
		defer deadLetter.Close()
	}
	spoolDir := cfg.Spool.Dir
	if spoolDir == "-" {
		spoolDir = ""
	}
	ropts := runtime.Options{DeadLetter: deadLetter, SpoolDir: spoolDir, SpoolMaxBytes: int64(cfg.Spool.MaxSizeMB) << 20, Recent: e.recent}
	if tr := cp.tracker(); tr != nil { // a nil *Tracker in the interface would not be nil
		ropts.Tracker = tr
	}
	if groups != nil {
		ropts.Groups = groups
	}
	for _, r := range loaded.Receivers {
		e.m.CheckpointLag.WithLabelValues(r.Name)
	}
	rt, err = runtime.NewRuntime(loaded.Receivers, e.m.Metrics, e.log, ropts)
	if err != nil {
		return fmt.Errorf("cannot prepare the receivers: %w", err)
	}
	popts := PipelineOptions{
		Enricher: e.enricher, Tracker: cp.tracker(), MaxEventAge: cfg.MaxEventAge(), Log: e.log, Recent: e.recent,
	}
	if mc, ok := e.enricher.(*kube.MetadataCache); ok {
		popts.NamespaceAnnotations = mc.NamespaceAnnotations
	}
	pipeline := NewPipeline(loaded, rt, e.m, popts)
	watcher, err := kube.NewEventWatcher(e.restCfg, e.log, kube.WatcherOptions{
		Namespaces: cfg.Namespace,
		OnEvent:    pipeline.Handle,
		OnDiscard:  func(r string) { e.m.EventsDiscarded.WithLabelValues(r).Inc() },
		OnRelist:   func(r string) { e.m.WatchRelists.WithLabelValues(r).Inc() },
		OnHealthy: func(t time.Time) {
			e.m.WatchLastSuccess.Set(float64(t.Unix()))
			e.watchOK.Store(t.UnixNano())
		},
		FieldSelector: cfg.EventFieldSelector,
	})
	if err != nil {
		rt.Shutdown(ctx) // closes the sinks it took over
		return fmt.Errorf("cannot build the event watcher: %w", err)
	}
	e.watcher.Store(watcher)
	defer e.watcher.Store(nil)
	e.mu.Lock()
	next := e.loaded // a reload that came in while delivery was being built
	e.loaded, e.deliveryOwnsSinks = loaded, true
	e.live = &running{pipeline: pipeline, runtime: rt, tracker: cp.tracker()}
	e.mu.Unlock()
	if next != loaded {
		if _, err := e.Reload(next); err != nil {
			e.log.Error().Err(err).Msg("configuration reload failed")
		}
	}
	rt.Start()
	var pipelineDone, cpDone sync.WaitGroup
	pipelineDone.Go(func() { pipeline.Run(ctx) })
	cpDone.Go(func() { cp.run(ctx) })
	var beating sync.WaitGroup
	beating.Go(func() { e.heartbeats(ctx, rt) })

	var runErr error
	if err := watcher.Run(ctx); err != nil {
		if ctx.Err() == nil {
			runErr = fmt.Errorf("event watch failed to start: %w", err)
			stop()
		}
	} else {
		e.watchOK.Store(time.Now().UnixNano())
		e.ready.Store(true)
		e.log.Info().Msg("event caches synced; watching")
		if e.onReady != nil {
			e.onReady()
		}
	}
	<-ctx.Done()
	stop()
	beating.Wait() // no heartbeat enters a runtime that shuts down
	e.ready.Store(false)
	e.mu.Lock()
	e.live = nil
	e.mu.Unlock()
	e.shutdown(lead, signal, shutdownParts{watcher: watcher, pipeline: pipeline, pipelineDone: &pipelineDone,
		runtime: rt, checkpointer: cp, checkpointerDone: &cpDone})
	if runErr == nil && signal.Err() == nil && lead.Err() != nil {
		runErr = ErrLeadershipLost
	}
	return runErr
}
