// Command eventide watches Kubernetes Events, enriches them with the labels
// and owners of the objects they are about, routes them through a tree of
// match/drop rules and delivers them to receivers (webhooks, files, Slack, …).
//
//	eventide -conf config.yaml [-kubeconfig FILE] [-metrics-address :2112]
//	eventide validate -conf config.yaml
//	eventide version
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"
	"golang.org/x/term"
	"k8s.io/client-go/rest"

	"github.com/eventide/eventide/pkg/exporter"
	"github.com/eventide/eventide/pkg/kube"
	"github.com/eventide/eventide/pkg/sinks"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch args[0] {
		case "validate":
			return validate(args[1:], stdout, stderr)
		case "version":
			fmt.Fprintln(stdout, "eventide", version)
			return 0
		}
	}
	return serve(args, stdout, stderr)
}

type flags struct {
	conf           string
	kubeconfig     string
	metricsAddress string
	drainTimeout   time.Duration
	pprof          bool
}

func parseFlags(name string, args []string, stderr io.Writer, withRun bool) (*flags, error) {
	f := &flags{}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&f.conf, "conf", "config.yaml", "path to the configuration file")
	fs.StringVar(&f.conf, "config", "config.yaml", "alias of -conf")
	if withRun {
		fs.StringVar(&f.kubeconfig, "kubeconfig", "", "kubeconfig path (default: in-cluster, then $KUBECONFIG, then ~/.kube/config)")
		fs.StringVar(&f.metricsAddress, "metrics-address", ":2112", "address of /metrics, /healthz and /readyz (empty turns them off)")
		fs.DurationVar(&f.drainTimeout, "drain-timeout", 10*time.Second, "on SIGTERM, how long receivers may deliver what they have queued")
		fs.BoolVar(&f.pprof, "pprof", false, "serve Go profiles under /debug/pprof/ on the metrics address")
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	return f, nil
}

// validate checks a configuration offline: no cluster, no network.
func validate(args []string, stdout, stderr io.Writer) int {
	f, err := parseFlags("eventide validate", args, stderr, false)
	if err != nil {
		return 2
	}
	loaded, err := exporter.LoadFile(f.conf, exporter.LoadOptions{
		Deps:              sinks.Deps{Log: zerolog.Nop(), Stdout: io.Discard},
		UnsetEnvIsWarning: true,
	})
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", f.conf, err)
		return 1
	}
	defer loaded.Close()
	for _, w := range loaded.Warnings {
		fmt.Fprintf(stderr, "%s: warning: %s\n", f.conf, w)
	}
	fmt.Fprintf(stdout, "%s: valid (%d receivers, %d routes)\n", f.conf, len(loaded.Receivers), len(loaded.Tree.Routes()))
	return 0
}

func newLogger(cfg *exporter.Config, w io.Writer) zerolog.Logger {
	level, err := zerolog.ParseLevel(cfg.LogLevel)
	if err != nil || cfg.LogLevel == "" {
		level = zerolog.InfoLevel
	}
	format := cfg.LogFormat
	if format == "" {
		format = "json"
		if fd, ok := w.(interface{ Fd() uintptr }); ok && term.IsTerminal(int(fd.Fd())) {
			format = "pretty"
		}
	}
	if format == "pretty" {
		w = zerolog.ConsoleWriter{Out: w, TimeFormat: time.RFC3339}
	}
	return zerolog.New(w).Level(level).With().Timestamp().Logger()
}

func serve(args []string, stdout, stderr io.Writer) int {
	f, err := parseFlags("eventide", args, stderr, true)
	if err != nil {
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	return runExporter(ctx, f, stdout, stderr, nil)
}

// runExporter runs eventide until ctx ends, then drains. onReady, when set,
// is called once the event caches synced (tests use it).
func runExporter(ctx context.Context, f *flags, stdout, stderr io.Writer, onReady func()) int {
	bootLog := zerolog.New(stderr).With().Timestamp().Logger()
	loaded, err := exporter.LoadFile(f.conf, exporter.LoadOptions{Deps: sinks.Deps{Log: bootLog, Stdout: stdout}})
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", f.conf, err)
		return 1
	}
	cfg := &loaded.Config
	log := newLogger(cfg, stderr)
	for _, w := range loaded.Warnings {
		log.Warn().Str("config", f.conf).Msg(w)
	}

	ctx, stop := context.WithCancel(ctx)
	defer stop()

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m := exporter.NewMetrics(reg, strings.TrimSuffix(cfg.MetricsNamePrefix, "_"))
	m.ConfigReceivers.Set(float64(len(loaded.Receivers)))

	restCfg, err := kube.RESTConfig(kube.ClientOptions{
		Kubeconfig: f.kubeconfig, QPS: cfg.KubeQPS, Burst: cfg.KubeBurst,
		UserAgent: "eventide/" + version, OnRequest: m.OnAPIRequest,
	})
	if err != nil {
		log.Error().Err(err).Msg("cannot configure the Kubernetes client")
		return 1
	}

	var enricher exporter.Enricher
	if !cfg.OmitLookup {
		mc, err := kube.NewMetadataCache(ctx, restCfg, log, kube.MetadataCacheOptions{
			Namespaces: cfg.Namespace,
			MaxMissing: cfg.CacheSize,
			OnLookup:   func(r string) { m.EnrichLookups.WithLabelValues(r).Inc() },
		})
		if err != nil {
			log.Error().Err(err).Msg("cannot build the metadata cache")
			return 1
		}
		enricher = mc
	}

	// eventide's own namespace holds its checkpoint ConfigMap and its Lease.
	namespace := cfg.Checkpoint.Namespace
	if namespace == "" {
		namespace = kube.OwnNamespace(f.kubeconfig)
	}
	var ready atomic.Bool
	srv := startHTTP(f.metricsAddress, reg, &ready, f.pprof, log)
	d := &deliverer{f: f, cfg: cfg, loaded: loaded, log: log, m: m, restCfg: restCfg, enricher: enricher,
		namespace: namespace, ready: &ready, onReady: onReady}
	log.Info().Strs("namespaces", cfg.Namespace).Int("receivers", len(loaded.Receivers)).
		Bool("enrichment", enricher != nil).Bool("leader_election", cfg.LeaderElection.Enabled).
		Str("version", version).Msg("eventide starting")
	var code int
	if cfg.LeaderElection.Enabled {
		code = d.runWithLeaderElection(ctx)
	} else {
		m.Leader.Set(1)
		code = d.deliver(ctx, ctx)
	}
	stop()
	ready.Store(false)
	loaded.Close()
	if srv != nil {
		shutCtx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_ = srv.Shutdown(shutCtx)
		cancel()
	}
	log.Info().Msg("stopped")
	return code
}

// deliverer runs the part of eventide that sends: checkpoints, receivers,
// pipeline and watch. Only the leader runs it.
type deliverer struct {
	f        *flags
	cfg      *exporter.Config
	loaded   *exporter.Loaded
	log      zerolog.Logger
	m        *exporter.Metrics
	restCfg  *rest.Config
	enricher exporter.Enricher
	// namespace is eventide's own: checkpoint ConfigMap and Lease.
	namespace string
	ready     *atomic.Bool
	onReady   func()
}

// deliver watches, routes and sends until lead or signal ends. After a
// signal (SIGTERM) the receivers drain for -drain-timeout and the final
// checkpoint is written; when only lead ends (leadership lost), sending
// stops at once and the new leader resumes from the last checkpoint.
func (d *deliverer) deliver(lead, signal context.Context) int {
	f, cfg, log, m := d.f, d.cfg, d.log, d.m
	loaded, restCfg, enricher, ready, onReady := d.loaded, d.restCfg, d.enricher, d.ready, d.onReady
	ctx, stop := context.WithCancel(lead)
	defer stop()
	go func() {
		select {
		case <-signal.Done():
			stop()
		case <-ctx.Done():
		}
	}()
	var err error
	names := make([]string, len(loaded.Receivers))
	for i, r := range loaded.Receivers {
		names[i] = r.Name
	}
	var (
		tracker *exporter.Tracker
		store   *kube.CheckpointStore
	)
	if cfg.Checkpoint.On() {
		ns := d.namespace
		if store, err = kube.NewCheckpointStore(restCfg, ns, cfg.Checkpoint.Name); err != nil {
			log.Error().Err(err).Msg("cannot build the checkpoint store")
			return 1
		}
		saved, err := store.Load(ctx)
		if err != nil {
			log.Error().Err(err).Msg("cannot read checkpoints (grant get/create/update on configmaps in eventide's namespace, or set checkpoint.enabled: false)")
			return 1
		}
		restored := make([]map[string]uint64, len(names))
		for i, n := range names {
			restored[i] = saved[n]
		}
		tracker = exporter.NewTracker(len(names), len(cfg.Namespace) > 1, restored)
		log.Info().Str("configmap", ns+"/"+cfg.Checkpoint.Name).Int("receivers_restored", countRestored(restored)).Msg("checkpoints loaded")
	}
	var deadLetter *exporter.DeadLetter
	if cfg.DeadLetter.Path != "-" {
		if deadLetter, err = exporter.NewDeadLetter(cfg.DeadLetter.Path, cfg.DeadLetter.MaxSizeMB); err != nil {
			log.Error().Err(err).Msg("cannot open the dead-letter file")
			return 1
		}
		defer deadLetter.Close()
	}
	spoolDir := cfg.Spool.Dir
	if spoolDir == "-" {
		spoolDir = ""
	}
	rt, err := exporter.NewRuntime(loaded.Receivers, m, log, exporter.RuntimeOptions{
		Tracker: tracker, DeadLetter: deadLetter,
		SpoolDir: spoolDir, SpoolMaxBytes: int64(cfg.Spool.MaxSizeMB) << 20,
	})
	if err != nil {
		log.Error().Err(err).Msg("cannot prepare the receivers")
		return 1
	}
	pipeline := exporter.NewPipeline(loaded.Tree, rt, m, exporter.PipelineOptions{
		Enricher: enricher, Tracker: tracker, MaxEventAge: cfg.MaxEventAge(),
	})
	watcher, err := kube.NewEventWatcher(restCfg, log, kube.WatcherOptions{
		Namespaces:  cfg.Namespace,
		ClusterName: cfg.ClusterName,
		OnEvent:     pipeline.Handle,
		OnDiscard:   func(r string) { m.EventsDiscarded.WithLabelValues(r).Inc() },
		OnRelist:    func(r string) { m.WatchRelists.WithLabelValues(r).Inc() },
	})
	if err != nil {
		log.Error().Err(err).Msg("cannot build the event watcher")
		return 1
	}
	rt.Start()
	var pipelineDone sync.WaitGroup
	pipelineDone.Go(func() { pipeline.Run(ctx) })
	cp := &checkpointer{store: store, tracker: tracker, names: names, m: m, log: log, interval: cfg.Checkpoint.Interval}
	var cpDone sync.WaitGroup
	if store != nil {
		cpDone.Go(func() { cp.run(ctx) })
	}

	code := 0
	if err := watcher.Run(ctx); err != nil {
		if ctx.Err() == nil {
			log.Error().Err(err).Msg("event watch failed to start")
			code = 1
			stop()
		}
	} else {
		ready.Store(true)
		log.Info().Msg("event caches synced; watching")
		if onReady != nil {
			onReady()
		}
	}
	<-ctx.Done()
	stop()
	ready.Store(false)
	graceful := stopsGracefully(lead, signal)
	drain := f.drainTimeout
	if graceful {
		log.Info().Dur("drain_timeout", drain).Msg("shutting down: draining receivers")
	} else {
		drain = 0
		log.Error().Msg("leadership lost: stopping delivery at once; the new leader resumes from the checkpoint")
	}

	watcher.Shutdown()
	pipeline.Close()
	pipelineDone.Wait()
	drainCtx, cancel := context.WithTimeout(context.Background(), drain)
	rt.Shutdown(drainCtx)
	cancel()
	cpDone.Wait()
	if store != nil && graceful {
		// What was delivered during the drain is not sent again next time.
		saveCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		cp.save(saveCtx)
		cancel()
	}
	return code
}

// stopsGracefully says whether delivery, now ending, drains and writes its
// checkpoint: yes after a signal or a watch that failed to start; no only
// when the Lease was lost (another replica may already be sending).
func stopsGracefully(lead, signal context.Context) bool {
	return signal.Err() != nil || lead.Err() == nil
}

// runWithLeaderElection campaigns for the Lease and delivers while it
// leads. On SIGTERM the leader drains, writes its checkpoint and only then
// releases the Lease, so the standby starts where it stopped. A replica
// that loses the Lease exits (status 1) to be restarted as a standby.
func (d *deliverer) runWithLeaderElection(signal context.Context) int {
	le := d.cfg.LeaderElection
	ns := d.namespace
	identity := fmt.Sprintf("%s_%d", hostname(), os.Getpid())
	electorCtx, stopElector := context.WithCancel(context.Background())
	defer stopElector()
	var (
		leading   atomic.Bool
		delivered = make(chan int, 1)
	)
	elector, err := kube.NewLeaderElector(d.restCfg, kube.LeaderElectionOptions{
		Namespace: ns, Name: le.LeaderElectionID, Identity: identity,
		LeaseDuration: le.LeaseDuration, RenewDeadline: le.RenewDeadline, RetryPeriod: le.RetryPeriod,
		OnStartedLeading: func(lead context.Context) {
			leading.Store(true)
			d.m.Leader.Set(1)
			d.log.Info().Str("identity", identity).Msg("leading: delivering events")
			code := d.deliver(lead, signal)
			d.m.Leader.Set(0)
			delivered <- code
			stopElector() // release the Lease only now
		},
	})
	if err != nil {
		d.log.Error().Err(err).Msg("cannot set up leader election")
		return 1
	}
	go func() {
		<-signal.Done()
		if !leading.Load() {
			stopElector()
		}
	}()
	d.ready.Store(true) // a standby is healthy
	d.log.Info().Str("lease", ns+"/"+le.LeaderElectionID).Str("identity", identity).Msg("standing by for leadership")
	elector.Run(electorCtx)
	if !leading.Load() {
		return 0
	}
	code := <-delivered
	if signal.Err() == nil {
		return 1 // leadership lost
	}
	return code
}

func hostname() string {
	h, err := os.Hostname()
	if err != nil {
		return "eventide"
	}
	return h
}

func countRestored(restored []map[string]uint64) int {
	n := 0
	for _, r := range restored {
		if len(r) > 0 {
			n++
		}
	}
	return n
}

// checkpointer writes the receivers' checkpoints to the cluster at most once
// per interval, and only when they moved.
type checkpointer struct {
	store    *kube.CheckpointStore
	tracker  *exporter.Tracker
	names    []string
	m        *exporter.Metrics
	log      zerolog.Logger
	interval time.Duration
	last     string
}

func (c *checkpointer) run(ctx context.Context) {
	t := time.NewTicker(c.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			c.save(ctx)
		}
	}
}

func (c *checkpointer) save(ctx context.Context) {
	cps := kube.Checkpoints{}
	for i, cp := range c.tracker.Checkpoints() {
		cps[c.names[i]] = cp
		c.m.CheckpointLag.WithLabelValues(c.names[i]).Set(float64(c.tracker.Pending(i)))
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

func startHTTP(addr string, reg *prometheus.Registry, ready *atomic.Bool, withPprof bool, log zerolog.Logger) *http.Server {
	if addr == "" {
		return nil
	}
	mux := http.NewServeMux()
	if withPprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok\n") })
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !ready.Load() {
			http.Error(w, "event caches not synced", http.StatusServiceUnavailable)
			return
		}
		_, _ = io.WriteString(w, "ok\n")
	})
	srv := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error().Err(err).Str("address", addr).Msg("metrics server failed")
		}
	}()
	return srv
}
