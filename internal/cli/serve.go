package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"
	"golang.org/x/term"

	"github.com/eventide/eventide/internal/redact"
	"github.com/eventide/eventide/internal/statuspage"
	"github.com/eventide/eventide/pkg/exporter"
	"github.com/eventide/eventide/pkg/exporter/config"
	"github.com/eventide/eventide/pkg/exporter/recent"
	"github.com/eventide/eventide/pkg/kube"
	"github.com/eventide/eventide/pkg/sinks"
	"github.com/eventide/eventide/pkg/sinks/prometheus/series"
)

// ServeFlags are the flags of eventide itself.
type ServeFlags struct {
	Conf           string
	Kubeconfig     string
	MetricsAddress string
	DrainTimeout   time.Duration
	Pprof          bool
	// PprofAddress is where -pprof serves Go profiles: loopback unless
	// given, since profiles show what the process holds.
	PprofAddress string
	// UnhealthyAfter: /healthz fails once the event watch has failed for
	// this long, so a liveness probe restarts a stuck eventide; 0: never.
	UnhealthyAfter time.Duration
	// WebAddress is where the status page is served (internal/statuspage);
	// empty: not served.
	WebAddress string
	// RecentEvents is how many routed events /events keeps.
	RecentEvents int
}

// Serve runs eventide until SIGTERM or SIGINT, then drains.
//
//	eventide [-conf config.yaml] [-kubeconfig FILE] [-metrics-address :2112]
func Serve(ctx context.Context, args []string, stdout, stderr io.Writer, version string) int {
	var f ServeFlags
	fs := serveFlags(&f)
	if err := parse(fs, args, &f.Conf, stdout, stderr); err != nil {
		return exitFor(err)
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	return ServeContext(ctx, f, stdout, stderr, version, nil)
}

// serveFlags defines eventide's own flags into f.
func serveFlags(f *ServeFlags) *flag.FlagSet {
	fs := flag.NewFlagSet("eventide", flag.ContinueOnError)
	configFlags(fs, &f.Conf)
	fs.StringVar(&f.Kubeconfig, "kubeconfig", "", "kubeconfig path (default: in-cluster, then $KUBECONFIG, then ~/.kube/config)")
	fs.StringVar(&f.MetricsAddress, "metrics-address", ":2112", "address of /metrics, /healthz, /readyz and POST /-/reload (empty turns them off)")
	fs.DurationVar(&f.DrainTimeout, "drain-timeout", 10*time.Second, "on SIGTERM, how long receivers may deliver what they have queued")
	fs.BoolVar(&f.Pprof, "pprof", false, "serve Go profiles under /debug/pprof/ on -pprof-address")
	fs.StringVar(&f.PprofAddress, "pprof-address", "127.0.0.1:6060", "address of /debug/pprof/ with -pprof (loopback by default: reach it with kubectl port-forward)")
	fs.DurationVar(&f.UnhealthyAfter, "unhealthy-after", 5*time.Minute, "/healthz fails once the event watch has failed this long (0: never)")
	fs.StringVar(&f.WebAddress, "web-address", "127.0.0.1:2113", "address of the read-only status page (loopback by default: reach it with kubectl port-forward; empty turns it off)")
	fs.IntVar(&f.RecentEvents, "web-recent-events", recent.DefaultSize, "how many routed events the status page's /events keeps")
	return fs
}

// ServeContext runs eventide until ctx ends, then drains. onReady, when set,
// is called once the event caches synced (end-to-end tests use it).
func ServeContext(ctx context.Context, f ServeFlags, stdout, stderr io.Writer, version string, onReady func()) int {
	bootLog := zerolog.New(stderr).With().Timestamp().Logger()
	eventMetrics := series.NewHub() // the prometheus receivers' series, across reloads
	secrets := &redact.Secrets{}    // what the status page must not show
	lookupEnv := secrets.Lookup(os.LookupEnv)
	content, err := config.ReadConfigFile(f.Conf)
	var loaded *config.Loaded
	if err == nil {
		loaded, err = config.Load(content, config.LoadOptions{LookupEnv: lookupEnv,
			Deps: sinks.Deps{Ctx: ctx, Log: bootLog, Stdout: stdout, EventMetrics: eventMetrics}})
	}
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", f.Conf, err)
		return ExitFailed
	}
	cfg := &loaded.Config
	log := newLogger(cfg, stderr).With().Str("version", version).Logger()
	kube.RouteKlog(log)
	for _, w := range loaded.Warnings {
		log.Warn().Str("config", f.Conf).Msg(w)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), eventMetrics)
	m := exporter.NewMetrics(reg, strings.TrimSuffix(cfg.MetricsNamePrefix, "_"))
	m.SetBuildInfo(version)
	restCfg, err := kube.RESTConfig(kube.ClientOptions{
		Kubeconfig: f.Kubeconfig, QPS: cfg.KubeQPS, Burst: cfg.KubeBurst,
		UserAgent: "eventide/" + version, OnRequest: m.OnAPIRequest,
	})
	if err != nil {
		loaded.Close()
		log.Error().Err(err).Msg("cannot configure the Kubernetes client")
		return ExitFailed
	}
	// eventide's own namespace holds its Lease and, unless the config
	// names another, its checkpoint ConfigMap.
	namespace := cfg.Checkpoint.Namespace
	if namespace == "" {
		namespace = kube.OwnNamespace(f.Kubeconfig)
	}
	var ring *recent.Ring
	if f.WebAddress != "" {
		ring = recent.New(f.RecentEvents)
	}
	engine, err := exporter.New(exporter.Options{
		Config: loaded, REST: restCfg, Log: log, Metrics: m, DrainTimeout: f.DrainTimeout,
		Namespace: namespace, OnReady: onReady, Version: version, Recent: ring,
	})
	if err != nil {
		loaded.Close()
		log.Error().Err(err).Msg("cannot build the engine")
		return ExitFailed
	}
	rl := newReloader(f.Conf, content, engine, m, log, sinks.Deps{Ctx: ctx, Log: log, Stdout: stdout, EventMetrics: eventMetrics})
	rl.lookupEnv = lookupEnv
	watchCtx, stopWatch := context.WithCancel(ctx)
	var watching sync.WaitGroup
	watching.Go(func() { rl.watch(watchCtx) })
	defer func() { stopWatch(); watching.Wait() }() // nothing logs after return
	health := probes{ready: engine.Ready, failingSince: engine.WatchFailingSince, unhealthyAfter: f.UnhealthyAfter}
	srv, err := listenAndServe(f.MetricsAddress, metricsMux(reg, health, rl.serveHTTP), log)
	if err != nil {
		loaded.Close()
		log.Error().Err(err).Msg("cannot serve metrics (another process on that port? set -metrics-address)")
		return ExitFailed
	}
	defer shutdown(ctx, srv)
	if f.Pprof {
		prof, err := listenAndServe(f.PprofAddress, pprofMux(), log)
		if err != nil {
			loaded.Close()
			log.Error().Err(err).Msg("cannot serve profiles (another process on that port? set -pprof-address)")
			return ExitFailed
		}
		defer shutdown(ctx, prof)
	}
	if f.WebAddress != "" {
		rates := statuspage.NewRates(statuspage.Counters{In: m.EventsReceived, Out: m.Sent, Dead: m.DeadLetters, Latency: m.DeliveryLatency})
		stopRates := make(chan struct{})
		go rates.Run(stopRates)
		defer close(stopRates)
		web, err := listenAndServe(f.WebAddress, statuspage.Handler(statuspage.Options{Engine: engine, Recent: ring, Rates: rates,
			ConfigState: rl.state, Secrets: secrets, Version: version}), log)
		if err != nil {
			loaded.Close()
			log.Error().Err(err).Msg("cannot serve the status page (another process on that port? set -web-address, or empty to turn it off)")
			return ExitFailed
		}
		defer shutdown(ctx, web)
	}
	err = engine.Run(ctx)
	if err != nil {
		log.Error().Err(err).Msg("stopped")
		return ExitFailed
	}
	log.Info().Msg("stopped")
	return ExitOK
}

// newLogger logs at every level; the global level, set from logLevel here
// and on each reload, filters.
func newLogger(cfg *config.Config, w io.Writer) zerolog.Logger {
	setLogLevel(cfg.LogLevel)
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
	return zerolog.New(w).Level(zerolog.TraceLevel).With().Timestamp().Logger()
}

// metricsMux serves /metrics, /healthz, /readyz and POST /-/reload.
func metricsMux(reg *prometheus.Registry, health probes, reload http.HandlerFunc) *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	mux.HandleFunc("/-/reload", reload)
	mux.HandleFunc("/healthz", health.healthz)
	mux.HandleFunc("/readyz", health.readyz)
	return mux
}

// pprofMux serves Go's profiles under /debug/pprof/.
func pprofMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}

// listenAndServe serves h on addr in the background; nil when addr is
// empty. The listener is open when it returns, so a port in use fails
// here.
func listenAndServe(addr string, h http.Handler, log zerolog.Logger) (*http.Server, error) {
	if addr == "" {
		return nil, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Addr: addr, Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error().Err(err).Str("address", addr).Msg("HTTP server failed")
		}
	}()
	return srv, nil
}

// shutdown stops srv (nil: nothing), giving requests in flight 2 s.
func shutdown(ctx context.Context, srv *http.Server) {
	if srv == nil {
		return
	}
	shutCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	_ = srv.Shutdown(shutCtx)
}

// probes answer the kubelet's liveness and readiness probes.
type probes struct {
	ready          func() bool
	failingSince   func() time.Time
	unhealthyAfter time.Duration
}

// healthz fails once the event watch has been failing for unhealthyAfter:
// the old exporter's most reported failure was a pod that ran, exported
// nothing, and answered 200.
func (p probes) healthz(w http.ResponseWriter, _ *http.Request) {
	if since := p.failingSince(); p.unhealthyAfter > 0 && !since.IsZero() && time.Since(since) > p.unhealthyAfter {
		http.Error(w, fmt.Sprintf("event watch failing since %s (over -unhealthy-after %s)", since.UTC().Format(time.RFC3339), p.unhealthyAfter),
			http.StatusServiceUnavailable)
		return
	}
	_, _ = io.WriteString(w, "ok\n")
}

func (p probes) readyz(w http.ResponseWriter, _ *http.Request) {
	if !p.ready() {
		http.Error(w, "event caches not synced", http.StatusServiceUnavailable)
		return
	}
	_, _ = io.WriteString(w, "ok\n")
}
