package exporter

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/eventide/eventide/internal/buildinfo"
	"github.com/eventide/eventide/pkg/exporter/runtime"
	"github.com/eventide/eventide/pkg/kube"
)

// Metrics are eventide's Prometheus metrics, registered on an injected
// registry. Label values are bounded: receiver names, route paths, reason
// classes and results from the config and the code, never object names.
type Metrics struct {
	// The receivers' metrics (queues, sends, retries, spool, grouping).
	*runtime.Metrics

	BuildInfo        *prometheus.GaugeVec
	EventsReceived   *prometheus.CounterVec // by event type: Normal, Warning, other
	EventsDiscarded  *prometheus.CounterVec
	EventsUnrouted   prometheus.Counter
	RouteMatched     *prometheus.CounterVec
	APIRequests      *prometheus.CounterVec
	EnrichLookups    *prometheus.CounterVec
	WatchRelists     *prometheus.CounterVec
	PipelineBacklog  prometheus.Gauge
	ConfigReceivers  prometheus.Gauge
	PipelineDuration prometheus.Histogram
	CheckpointWrites *prometheus.CounterVec
	CheckpointLag    *prometheus.GaugeVec
	Leader           prometheus.Gauge

	WatchLastSuccess prometheus.Gauge
	Heartbeats       *prometheus.CounterVec

	// Lookups the caches could not answer at once (lookup.go).
	LookupsParked      prometheus.Gauge
	LookupsInFlight    prometheus.Gauge
	LookupDuration     prometheus.Histogram
	TombstoneEvictions *prometheus.CounterVec

	EventsMuted *prometheus.CounterVec

	// Reloads, named as Prometheus and Alertmanager name theirs.
	ConfigReloadSuccessful    prometheus.Gauge
	ConfigReloadSuccessTime   prometheus.Gauge
	ConfigReloads             *prometheus.CounterVec
	ConfigRestartRequiredKeys *prometheus.CounterVec
}

// NewMetrics creates the metrics under namespace (eventide unless the config
// sets metricsNamePrefix) and registers them on reg.
func NewMetrics(reg prometheus.Registerer, namespace string) *Metrics {
	if namespace == "" {
		namespace = "eventide"
	}
	f := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: name, Help: help}, labels)
	}
	m := &Metrics{
		Metrics:         runtime.NewMetrics(reg, namespace),
		EventsReceived:  f("events_received_total", "Events handed on by the watch: new events and new occurrences of existing ones, by event type (Normal, Warning, other).", "type"),
		EventsDiscarded: f("events_discarded_total", "Watched events not processed, by reason (before_start, no_change).", "reason"),
		EventsUnrouted: prometheus.NewCounter(prometheus.CounterOpts{Namespace: namespace, Name: "events_unrouted_total",
			Help: "Events that no route sent to any receiver."}),
		RouteMatched:  f("route_matched_total", "Events a route sent to at least one receiver, by route path.", "route"),
		APIRequests:   f("kube_api_requests_total", "Requests made to the Kubernetes API server, by verb and status code.", "verb", "code"),
		EnrichLookups: f("enrichment_lookups_total", "Involved-object lookups, by result: hit (in a cache), tombstone (deleted, its metadata kept), deleted (gone, nothing kept), fetched (by a GET), denied (RBAC), unknown_kind, error.", "result"),
		WatchRelists:  f("watch_errors_total", "Event watch failures that make the informer list again, by reason.", "reason"),
		BuildInfo: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: namespace, Name: "build_info",
			Help: "Always 1; the labels say which build runs."}, []string{"version", "revision", "goversion"}),
		PipelineBacklog: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: namespace, Name: "pipeline_backlog",
			Help: "Events waiting for enrichment and routing."}),
		ConfigReceivers: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: namespace, Name: "config_receivers",
			Help: "Receivers in the loaded configuration."}),
		PipelineDuration: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: namespace, Name: "pipeline_duration_seconds",
			Help:    "Time from the watch handing an event on to its enqueue on its receivers (enrichment, any wait for a lookup, routing).",
			Buckets: prometheus.ExponentialBuckets(0.00001, 4, 10)}),
	}
	m.LookupsParked = prometheus.NewGauge(prometheus.GaugeOpts{Namespace: namespace, Name: "enrichment_waiting_events",
		Help: "Events waiting for a lookup of their object (events about other objects go on)."})
	m.LookupsInFlight = prometheus.NewGauge(prometheus.GaugeOpts{Namespace: namespace, Name: "enrichment_fetches_in_flight",
		Help: "Lookups the caches could not answer, being made now (a GET or discovery)."})
	m.LookupDuration = prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: namespace, Name: "enrichment_fetch_duration_seconds",
		Help: "Duration of one lookup the caches could not answer, rate-limit wait included.", Buckets: prometheus.ExponentialBuckets(0.001, 4, 8)})
	m.TombstoneEvictions = f("enrichment_tombstone_evictions_total", "Deleted objects' metadata forgotten, by reason: capacity (cacheSize) or age (one hour).", "reason")
	reg.MustRegister(m.LookupsParked, m.LookupsInFlight, m.LookupDuration, m.TombstoneEvictions)
	m.CheckpointWrites = f("checkpoint_writes_total", "Checkpoint writes to the cluster, by result.", "result")
	m.CheckpointLag = prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: namespace, Name: "checkpoint_lag_events",
		Help: "Events handed to a receiver and not yet finished: what a crash now would send again."}, []string{"receiver"})
	m.Leader = prometheus.NewGauge(prometheus.GaugeOpts{Namespace: namespace, Name: "leader",
		Help: "1 while this replica is the leader and delivers events."})
	m.ConfigReloadSuccessful = prometheus.NewGauge(prometheus.GaugeOpts{Namespace: namespace, Name: "config_last_reload_successful",
		Help: "Whether the last configuration reload succeeded (1, also before any) or was refused (0)."})
	m.ConfigReloadSuccessTime = prometheus.NewGauge(prometheus.GaugeOpts{Namespace: namespace, Name: "config_last_reload_success_timestamp_seconds",
		Help: "Time of the last configuration that applied (the start, or a successful reload)."})
	m.ConfigReloads = f("config_reloads_total", "Configuration reloads, by result: applied, unchanged, invalid.", "result")
	m.ConfigRestartRequiredKeys = f("config_restart_required_total", "Reloads that changed a key that only applies at start, by key.", "key")
	m.WatchLastSuccess = prometheus.NewGauge(prometheus.GaugeOpts{Namespace: namespace, Name: "watch_last_success_timestamp_seconds",
		Help: "When the event watch was last known to work (refreshed every 10s while it does)."})
	m.EventsMuted = f("events_muted_total", "Events not sent to a silenceable receiver, by reason: silenced (a silence in the route file or an eventide.io/silence-until annotation) or inhibited (an inhibit rule's source is active).", "receiver", "reason")
	m.Heartbeats = f("heartbeats_total", "Heartbeat events (the heartbeat key), by result: sent, or skipped_unhealthy (the watch was failing or the caches not synced).", "result")
	m.Heartbeats.WithLabelValues("sent")
	m.Heartbeats.WithLabelValues("skipped_unhealthy")
	reg.MustRegister(m.EventsMuted, m.WatchLastSuccess, m.BuildInfo, m.Heartbeats)
	// Series alerts and dashboards query exist from the start, at zero.
	for _, t := range []string{"Normal", "Warning", "other"} {
		m.EventsReceived.WithLabelValues(t)
	}
	for _, r := range kube.WatchErrorReasons {
		m.WatchRelists.WithLabelValues(r)
	}
	m.CheckpointWrites.WithLabelValues("ok")
	m.CheckpointWrites.WithLabelValues("error")
	reg.MustRegister(m.ConfigReloadSuccessful, m.ConfigReloadSuccessTime, m.ConfigReloads, m.ConfigRestartRequiredKeys)
	reg.MustRegister(m.CheckpointWrites, m.CheckpointLag, m.Leader)
	reg.MustRegister(m.EventsReceived, m.EventsDiscarded, m.EventsUnrouted, m.RouteMatched, m.APIRequests, m.EnrichLookups,
		m.WatchRelists, m.PipelineBacklog, m.ConfigReceivers, m.PipelineDuration)
	return m
}

// SetBuildInfo sets eventide_build_info: version as stamped at build
// (make build), the VCS revision and Go version the binary carries.
// counterByLabel counts by a label value, with the counters of the values
// given resolved once: per event, a label lookup costs a hash and a lock.
func counterByLabel(vec *prometheus.CounterVec, values ...string) func(string) {
	known := make(map[string]prometheus.Counter, len(values))
	for _, v := range values {
		known[v] = vec.WithLabelValues(v)
	}
	return func(v string) {
		if c, ok := known[v]; ok {
			c.Inc()
			return
		}
		vec.WithLabelValues(v).Inc()
	}
}

func (m *Metrics) SetBuildInfo(version string) {
	bi := buildinfo.Read(version)
	revision := bi.Revision
	if revision == "" {
		revision = "unknown"
	}
	m.BuildInfo.WithLabelValues(version, revision, bi.GoVersion).Set(1)
}

// OnAPIRequest counts one API request; pass it as kube.ClientOptions.OnRequest.
func (m *Metrics) OnAPIRequest(verb string, code int) {
	m.APIRequests.WithLabelValues(verb, strconv.Itoa(code)).Inc()
}
