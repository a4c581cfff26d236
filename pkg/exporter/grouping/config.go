// Package grouping turns a receiver's events into one notification per
// group, with Alertmanager's timing: the first event of a group waits
// `wait` for more, then one notification goes out; more events update it
// at most once per `interval` (the same Slack message, edited); after
// `repeatInterval` with events still coming, a fresh one; a group with no
// event for `expireAfter` ends, with a last edit saying it went quiet.
//
// A Grouper is the state of one receiver's groups, owned by the
// receiver's worker in pkg/exporter/runtime: the worker absorbs events
// into it, takes each notification when due and delivers it through its
// one retry loop. A group keeps each event until the notification that
// counts it is delivered, so the receiver's checkpoint waits for that and
// a crash sends the event again rather than losing it.
package grouping

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/eventide/eventide/pkg/kube/event"
)

// Config is a receiver's `group` settings.
type Config struct {
	// By are the event fields whose values make the group key: route
	// field names (namespace, reason, kind, name, …), workload, and
	// labels.KEY or annotations.KEY of the involved object.
	By             []string      `yaml:"by"`
	Wait           time.Duration `yaml:"wait"`           // default 30s
	Interval       time.Duration `yaml:"interval"`       // default 5m
	RepeatInterval time.Duration `yaml:"repeatInterval"` // default 4h
	ExpireAfter    time.Duration `yaml:"expireAfter"`    // default 1h
	// MaxGroups bounds the groups kept (default 1000): a new group past
	// it ends the group idle longest.
	MaxGroups int `yaml:"maxGroups"`
	// Events is how many of its latest events a group shows as
	// .Group.Events (default 10, at most 100).
	Events int `yaml:"events"`
}

// Defaults.
const (
	DefaultWait           = 30 * time.Second
	DefaultInterval       = 5 * time.Minute
	DefaultRepeatInterval = 4 * time.Hour
	DefaultExpireAfter    = time.Hour
	DefaultMaxGroups      = 1000
	DefaultEvents         = 10
	// maxKept is how many unsent events a group holds before it sends
	// ahead of its interval: they hold the checkpoint and memory.
	maxKept = 1000
)

// Check fills in the defaults and returns every error, named under path.
func (c Config) Check(path string) (Config, error) {
	var errs []error
	if len(c.By) == 0 {
		errs = append(errs, fmt.Errorf("%s.by: required: the fields that make a group (for example [namespace, reason, workload])", path))
	}
	seen := map[string]bool{}
	for i, f := range c.By {
		if _, ok := event.Field(f); !ok {
			errs = append(errs, fmt.Errorf("%s.by[%d]: %q is not an event field (%s, labels.KEY, annotations.KEY, extra.KEY)", path, i, f, fieldNames()))
		}
		if seen[f] {
			errs = append(errs, fmt.Errorf("%s.by[%d]: %q is listed twice", path, i, f))
		}
		seen[f] = true
	}
	set := func(d *time.Duration, def time.Duration, key string) {
		if *d < 0 {
			errs = append(errs, fmt.Errorf("%s.%s: must not be negative", path, key))
		}
		if *d == 0 {
			*d = def
		}
	}
	set(&c.Wait, DefaultWait, "wait")
	set(&c.Interval, DefaultInterval, "interval")
	set(&c.RepeatInterval, DefaultRepeatInterval, "repeatInterval")
	set(&c.ExpireAfter, DefaultExpireAfter, "expireAfter")
	if c.RepeatInterval < c.Interval {
		errs = append(errs, fmt.Errorf("%s.repeatInterval: %s is shorter than interval %s", path, c.RepeatInterval, c.Interval))
	}
	if c.MaxGroups == 0 {
		c.MaxGroups = DefaultMaxGroups
	}
	if c.MaxGroups < 0 || c.MaxGroups > 100000 {
		errs = append(errs, fmt.Errorf("%s.maxGroups: %d is not between 1 and 100000", path, c.MaxGroups))
	}
	if c.Events == 0 {
		c.Events = DefaultEvents
	}
	if c.Events < 0 || c.Events > 100 {
		errs = append(errs, fmt.Errorf("%s.events: %d is not between 1 and 100", path, c.Events))
	}
	return c, errors.Join(errs...)
}

// KeyFunc returns the group key of an event: the values of c.By joined
// by "/". c must have passed Check.
func (c Config) KeyFunc() func(*event.EnhancedEvent) string {
	gets := make([]func(*event.EnhancedEvent) string, len(c.By))
	for i, f := range c.By {
		gets[i], _ = event.Field(f)
	}
	return func(ev *event.EnhancedEvent) string {
		var b strings.Builder
		for i, get := range gets {
			if i > 0 {
				b.WriteByte('/')
			}
			b.WriteString(get(ev))
		}
		return b.String()
	}
}

func fieldNames() string { return strings.Join(event.FieldNames(), ", ") }

// First is ev as the first notification of a group of its own: what
// `route-test -render` and `replay -dry-run` show for a grouping receiver.
func (c Config) First(ev *event.EnhancedEvent) *event.EnhancedEvent {
	obj := ev.InvolvedObject.Kind + "/" + ev.InvolvedObject.Namespace + "/" + ev.InvolvedObject.Name
	n := *ev
	n.Group = &event.Group{Key: c.KeyFunc()(ev), Status: StatusNew, Count: 1, FirstSeen: ev.GetLastTime(), LastSeen: ev.GetLastTime(),
		Objects: []string{obj}, ObjectCount: 1, Events: []*event.EnhancedEvent{ev}}
	return &n
}
