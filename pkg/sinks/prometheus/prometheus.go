// Package prometheus is the event metrics receiver: it counts occurrences
// (an Event's count increases, not watch updates) by a few bounded labels,
// as a counter on eventide's own /metrics.
package prometheus

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/eventide/eventide/pkg/kube/event"
	"github.com/eventide/eventide/pkg/sinks"
	"github.com/eventide/eventide/pkg/sinks/prometheus/series"
)

// Config declares one counter.
type Config struct {
	Name   string   `yaml:"name"` // ends in _total
	Help   string   `yaml:"help"`
	Labels []string `yaml:"labels"` // event fields, labels.KEY, annotations.KEY, extra.KEY
	// MaxSeries bounds the label sets; past it, new ones are counted in
	// one series whose every label is "other". Default 5000.
	MaxSeries int `yaml:"maxSeries"`
	// ExpireAfter deletes a series with no occurrence for this long.
	// Default 24h.
	ExpireAfter time.Duration `yaml:"expireAfter"`
	// AllowHighCardinality lets object names and messages be labels.
	AllowHighCardinality bool `yaml:"allowHighCardinality"`
}

// Defaults and bounds.
const (
	DefaultMaxSeries   = 5000
	MaxMaxSeries       = 100_000
	DefaultExpireAfter = 24 * time.Hour
)

var (
	metricName = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*$`)
	notLabel   = regexp.MustCompile(`[^a-zA-Z0-9_]`)
)

// highCardinality are the fields whose values are (nearly) one per event or
// object: each value makes a series.
var highCardinality = map[string]string{
	"name":    "the object's name makes a series per pod",
	"message": "messages carry names, numbers and times: a series per event",
}

// LabelName is the Prometheus label of a field: labels.KEY →
// label_KEY, annotations.KEY → annotation_KEY, extra.KEY → extra_KEY,
// sanitised as kube-state-metrics does (every other character → _).
func LabelName(field string) string {
	for prefix, to := range map[string]string{"labels.": "label_", "annotations.": "annotation_", "extra.": "extra_"} {
		if key, ok := strings.CutPrefix(field, prefix); ok {
			return to + notLabel.ReplaceAllString(key, "_")
		}
	}
	return field
}

func (c *Config) Build(path string, deps sinks.Deps) (sinks.Sink, error) {
	var errs []error
	switch {
	case !metricName.MatchString(c.Name):
		errs = append(errs, fmt.Errorf("%s.name: %q must match %s", path, c.Name, metricName))
	case !strings.HasSuffix(c.Name, "_total"):
		errs = append(errs, fmt.Errorf("%s.name: %q must end in _total: it is a counter", path, c.Name))
	}
	if len(c.Labels) == 0 {
		errs = append(errs, fmt.Errorf("%s.labels: at least one (e.g. [namespace, reason, type])", path))
	}
	s := &sink{}
	seen := map[string]string{}
	for i, field := range c.Labels {
		get, ok := event.Field(field)
		if !ok {
			errs = append(errs, fmt.Errorf("%s.labels[%d]: %q is no event field (%s, labels.KEY, annotations.KEY, extra.KEY)", path, i, field, strings.Join(event.FieldNames(), ", ")))
			continue
		}
		if why, high := highCardinality[field]; high && !c.AllowHighCardinality {
			errs = append(errs, fmt.Errorf("%s.labels[%d]: %s is refused as a label: %s, and Prometheus keeps every series in memory (allowHighCardinality: true to insist)", path, i, field, why))
		}
		name := LabelName(field)
		if other, dup := seen[name]; dup {
			errs = append(errs, fmt.Errorf("%s.labels[%d]: %s and %s are both the label %s", path, i, other, field, name))
		}
		seen[name] = field
		s.getters = append(s.getters, get)
		s.labels = append(s.labels, name)
	}
	spec := series.Spec{Name: c.Name, Labels: s.labels, MaxSeries: c.MaxSeries, ExpireAfter: c.ExpireAfter, Help: c.Help}
	if spec.MaxSeries == 0 {
		spec.MaxSeries = DefaultMaxSeries
	}
	if spec.MaxSeries < 1 || spec.MaxSeries > MaxMaxSeries {
		errs = append(errs, fmt.Errorf("%s.maxSeries: %d is not between 1 and %d", path, c.MaxSeries, MaxMaxSeries))
	}
	if spec.ExpireAfter == 0 {
		spec.ExpireAfter = DefaultExpireAfter
	}
	if spec.ExpireAfter < time.Minute {
		errs = append(errs, fmt.Errorf("%s.expireAfter: %s is under a minute", path, c.ExpireAfter))
	}
	if spec.Help == "" {
		spec.Help = "Kubernetes event occurrences by " + strings.Join(s.labels, ", ") + " (eventide prometheus receiver " + deps.Receiver + ")."
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	s.hub = deps.EventMetrics
	if s.hub == nil {
		s.hub = series.NewHub() // validate, route-test: nothing is served
	}
	s.family = s.hub.Claim(spec)
	s.occurrences = s.family.Kept(func() any { return sinks.NewOccurrences() }).(*sinks.Occurrences)
	return s, nil
}

type sink struct {
	labels      []string // label names, in order
	getters     []func(*event.EnhancedEvent) string
	hub         *series.Hub
	family      *series.Family
	occurrences *sinks.Occurrences
}

func (s *sink) values(ev *event.EnhancedEvent) []string {
	out := make([]string, len(s.getters))
	for i, get := range s.getters {
		out[i] = get(ev)
	}
	return out
}

// Send counts ev's new occurrences; nothing for an update that adds none.
func (s *sink) Send(_ context.Context, ev *event.EnhancedEvent) error {
	if n := s.occurrences.New(ev); n > 0 {
		s.family.Add(s.values(ev), n, time.Now())
	}
	return nil
}

// Preview shows the series the event counts in (counting nothing).
func (s *sink) Preview(ev *event.EnhancedEvent) (any, error) {
	labels := map[string]string{}
	for i, v := range s.values(ev) {
		labels[s.labels[i]] = v
	}
	return map[string]any{"metric": s.family.Name(), "labels": labels}, nil
}

func (s *sink) Close() error {
	s.hub.Release(s.family)
	return nil
}

var _ sinks.Previewer = (*sink)(nil)
