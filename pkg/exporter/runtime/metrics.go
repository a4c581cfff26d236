package runtime

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/eventide/eventide/pkg/exporter/grouping"
)

// Metrics are the receivers' metrics: what each receiver sent, retried,
// dropped, queued, spooled and grouped. Label values are receiver names
// and reason classes.
type Metrics struct {
	ReceiverInfo    *prometheus.GaugeVec
	Sent            *prometheus.CounterVec
	Failed          *prometheus.CounterVec
	Retried         *prometheus.CounterVec
	Dropped         *prometheus.CounterVec
	QueueLength     *prometheus.GaugeVec
	SendDuration    *prometheus.HistogramVec
	DeliveryLatency *prometheus.HistogramVec
	LastSuccess     *prometheus.GaugeVec
	TemplateErrors  *prometheus.CounterVec
	DeadLetters     *prometheus.CounterVec
	SpoolEvents     *prometheus.GaugeVec
	SpoolBytes      *prometheus.GaugeVec

	RateLimitWaits       *prometheus.CounterVec
	RateLimitWaitSeconds *prometheus.CounterVec

	// Grouping (receivers with group:).
	GroupEvents        *prometheus.CounterVec
	GroupNotifications *prometheus.CounterVec
	GroupsActive       *prometheus.GaugeVec
	GroupEvictions     *prometheus.CounterVec
}

// NewMetrics creates the receivers' metrics under namespace and registers
// them on reg.
func NewMetrics(reg prometheus.Registerer, namespace string) *Metrics {
	f := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: name, Help: help}, labels)
	}
	m := &Metrics{
		Sent:           f("receiver_sent_total", "Events a receiver delivered.", "receiver"),
		Failed:         f("receiver_failed_total", "Events a receiver gave up on, by reason class.", "receiver", "reason"),
		Retried:        f("receiver_retries_total", "Send attempts repeated after a retryable failure.", "receiver", "reason"),
		Dropped:        f("receiver_dropped_total", "Events dropped before a send: queue_full or spool_full (oldest dropped), or shutdown (sent after a restart).", "receiver", "reason"),
		TemplateErrors: f("template_errors_total", "Templates that failed while rendering an event for a receiver.", "receiver"),
		QueueLength: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: namespace, Name: "receiver_queue_length",
			Help: "Events waiting in a receiver's queue."}, []string{"receiver"}),
		SendDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: namespace, Name: "receiver_send_duration_seconds",
			Help: "Duration of one send attempt.", Buckets: prometheus.ExponentialBuckets(0.001, 4, 8)}, []string{"receiver"}),
		DeliveryLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: namespace, Name: "receiver_delivery_latency_seconds",
			Help:    "Time from the watch handing an event on to the receiver acknowledging it (retries and queueing included).",
			Buckets: prometheus.ExponentialBuckets(0.005, 3, 10)}, []string{"receiver"}),
		LastSuccess: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: namespace, Name: "receiver_last_success_timestamp_seconds",
			Help: "When a receiver last delivered an event."}, []string{"receiver"}),
		ReceiverInfo: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: namespace, Name: "receiver_info",
			Help: "Always 1 for each configured receiver; the type label is its receiver type."}, []string{"receiver", "type"}),
	}
	m.DeadLetters = f("dead_letters_total", "Events rejected for good (or retries exhausted), written to the dead-letter file.", "receiver")
	m.SpoolEvents = prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: namespace, Name: "receiver_spool_events",
		Help: "Events a receiver holds on disk because its memory queue is full."}, []string{"receiver"})
	m.SpoolBytes = prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: namespace, Name: "receiver_spool_bytes",
		Help: "Bytes of a receiver's disk spool."}, []string{"receiver"})
	m.GroupEvents = f("group_events_total", "Events a grouping receiver absorbed into a group (re-sent occurrences not counted).", "receiver")
	m.GroupNotifications = f("group_notifications_total", "Group notifications delivered, by status: new, update (edited in place where the service allows), repeat, quiet.", "receiver", "status")
	m.GroupsActive = prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: namespace, Name: "groups_active",
		Help: "Groups a grouping receiver keeps."}, []string{"receiver"})
	m.GroupEvictions = f("group_evictions_total", "Groups ended early because group.maxGroups was reached.", "receiver")
	m.RateLimitWaits = f("receiver_rate_limit_waits_total", "Sends that waited for the receiver's delivery.rateLimit.", "receiver")
	m.RateLimitWaitSeconds = f("receiver_rate_limit_wait_seconds_total", "Time sends waited for the receiver's delivery.rateLimit.", "receiver")
	reg.MustRegister(m.GroupEvents, m.GroupNotifications, m.GroupsActive, m.GroupEvictions, m.RateLimitWaits, m.RateLimitWaitSeconds,
		m.DeliveryLatency, m.LastSuccess, m.ReceiverInfo, m.DeadLetters, m.SpoolEvents, m.SpoolBytes,
		m.Sent, m.Failed, m.Retried, m.Dropped, m.QueueLength, m.SendDuration, m.TemplateErrors)
	return m
}

// setReceiverInfo sets eventide_receiver_info for r, whose type may have
// changed in a reload.
func (m *Metrics) setReceiverInfo(r Receiver) {
	m.ReceiverInfo.DeletePartialMatch(prometheus.Labels{"receiver": r.Name})
	m.ReceiverInfo.WithLabelValues(r.Name, r.Type).Set(1)
}

// groupMetrics are receiver's grouping metrics, at zero from the start.
func (m *Metrics) groupMetrics(receiver string) grouping.Metrics {
	notes := m.GroupNotifications.MustCurryWith(prometheus.Labels{"receiver": receiver})
	for _, s := range grouping.Statuses {
		notes.WithLabelValues(s)
	}
	return grouping.Metrics{
		Grouped:       m.GroupEvents.WithLabelValues(receiver),
		Notifications: func(status string) prometheus.Counter { return notes.WithLabelValues(status) },
		Active:        m.GroupsActive.WithLabelValues(receiver),
		Evicted:       m.GroupEvictions.WithLabelValues(receiver),
	}
}

// forgetReceiver removes the gauges of a receiver no longer configured, so
// they do not report its last values forever. Counters stay.
func (m *Metrics) forgetReceiver(name string) {
	m.QueueLength.DeleteLabelValues(name)
	m.SpoolEvents.DeleteLabelValues(name)
	m.SpoolBytes.DeleteLabelValues(name)
	m.LastSuccess.DeleteLabelValues(name)
	m.GroupsActive.DeleteLabelValues(name)
	m.ReceiverInfo.DeletePartialMatch(prometheus.Labels{"receiver": name})
}
