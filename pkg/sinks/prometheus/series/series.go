// Package series holds the event metrics of prometheus receivers: one
// counter family per metric, its series by label values, bounded
// (maxSeries, then one "other" series) and expiring (expireAfter). The
// Hub lives as long as the process and is one collector on its registry,
// so a reload that rebuilds a receiver keeps the series and their values
// when the metric's name and labels did not change.
package series

import (
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Spec is a metric as a receiver declares it.
type Spec struct {
	Name, Help  string
	Labels      []string // label names, in order
	MaxSeries   int
	ExpireAfter time.Duration
}

// Other is every label's value on the series that takes the label sets
// past MaxSeries.
const Other = "other"

// Hub is every event metric of the process.
type Hub struct {
	mu       sync.Mutex
	families map[string]*Family
	now      func() time.Time

	seriesDesc, overflowDesc *prometheus.Desc
}

// NewHub is an empty hub; register it on the registry /metrics serves.
func NewHub() *Hub {
	return &Hub{families: map[string]*Family{}, now: time.Now,
		seriesDesc: prometheus.NewDesc("eventide_event_metric_series", "Series of each event metric (prometheus receivers), the other series included.", []string{"metric"}, nil),
		overflowDesc: prometheus.NewDesc("eventide_event_metric_overflow_total",
			"Occurrences counted in an event metric's other series because it had maxSeries series already.", []string{"metric"}, nil)}
}

// Family is one metric's series.
type Family struct {
	spec     Spec
	desc     *prometheus.Desc
	refs     int
	mu       sync.Mutex
	series   map[string]*entry
	overflow float64
	kept     any // see Kept
}

// Kept is what the receiver keeps with the metric across reloads (its
// occurrence memory), made by init the first time.
func (f *Family) Kept(init func() any) any {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.kept == nil {
		f.kept = init()
	}
	return f.kept
}

type entry struct {
	values []string
	value  float64
	last   time.Time
}

// Claim returns the family for spec: the one already there when its name
// and labels are the same (its series and Data kept; maxSeries and
// expireAfter updated), else a new one replacing it. Each Claim is
// paired with a Release.
func (h *Hub) Claim(spec Spec) *Family {
	h.mu.Lock()
	defer h.mu.Unlock()
	if f := h.families[spec.Name]; f != nil && slices.Equal(f.spec.Labels, spec.Labels) {
		f.mu.Lock()
		f.spec.MaxSeries, f.spec.ExpireAfter, f.spec.Help = spec.MaxSeries, spec.ExpireAfter, spec.Help
		f.mu.Unlock()
		f.refs++
		return f
	}
	f := &Family{spec: spec, refs: 1, series: map[string]*entry{},
		desc: prometheus.NewDesc(spec.Name, spec.Help, spec.Labels, nil)}
	h.families[spec.Name] = f
	return f
}

// Name is the metric's name.
func (f *Family) Name() string { return f.spec.Name }

// Release drops a claim; a family no receiver claims any more is removed
// from /metrics.
func (h *Hub) Release(f *Family) {
	h.mu.Lock()
	defer h.mu.Unlock()
	f.refs--
	if f.refs <= 0 && h.families[f.spec.Name] == f {
		delete(h.families, f.spec.Name)
	}
}

// Add counts n occurrences for values (one per label) at now. Past
// MaxSeries, a new label set is counted in the other series instead.
func (f *Family) Add(values []string, n int64, now time.Time) {
	key := strings.Join(values, "\xff")
	f.mu.Lock()
	defer f.mu.Unlock()
	e := f.series[key]
	if e == nil {
		f.expire(now)
		if len(f.series) >= f.spec.MaxSeries {
			f.overflow += float64(n)
			others := make([]string, len(values))
			for i := range others {
				others[i] = Other
			}
			key = strings.Join(others, "\xff")
			if e = f.series[key]; e == nil {
				e = &entry{values: others}
				f.series[key] = e // the one series allowed past the cap
			}
		} else {
			e = &entry{values: slices.Clone(values)}
			f.series[key] = e
		}
	}
	e.value += float64(n)
	e.last = now
}

// expire deletes the series with no occurrence for ExpireAfter.
func (f *Family) expire(now time.Time) {
	if f.spec.ExpireAfter <= 0 {
		return
	}
	for k, e := range f.series {
		if now.Sub(e.last) >= f.spec.ExpireAfter {
			delete(f.series, k)
		}
	}
}

// Describe sends nothing: the families change with the configuration (an
// unchecked collector).
func (h *Hub) Describe(chan<- *prometheus.Desc) {}

// Collect sends every family's series, after expiring the old ones.
func (h *Hub) Collect(ch chan<- prometheus.Metric) {
	h.mu.Lock()
	families := make([]*Family, 0, len(h.families))
	for _, f := range h.families {
		families = append(families, f)
	}
	h.mu.Unlock()
	now := h.now()
	for _, f := range families {
		f.mu.Lock()
		f.expire(now)
		for _, e := range f.series {
			ch <- prometheus.MustNewConstMetric(f.desc, prometheus.CounterValue, e.value, e.values...)
		}
		ch <- prometheus.MustNewConstMetric(h.seriesDesc, prometheus.GaugeValue, float64(len(f.series)), f.spec.Name)
		ch <- prometheus.MustNewConstMetric(h.overflowDesc, prometheus.CounterValue, f.overflow, f.spec.Name)
		f.mu.Unlock()
	}
}
