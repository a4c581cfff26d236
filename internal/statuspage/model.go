package statuspage

import (
	"net/url"
	"slices"
	"time"

	"github.com/eventide/eventide/internal/buildinfo"
	"github.com/eventide/eventide/pkg/exporter"
	"github.com/eventide/eventide/pkg/exporter/config"
	"github.com/eventide/eventide/pkg/exporter/grouping"
	"github.com/eventide/eventide/pkg/exporter/recent"
	"github.com/eventide/eventide/pkg/exporter/route"
)

// The pages' data, one struct per page: the HTML templates render them
// and ?format=json writes them as they are. Every string from the
// configuration goes through the redaction of ${VAR} values; nothing
// here holds an annotation, a payload or an error's text.

// Overview is /.
type Overview struct {
	Build buildinfo.Info `json:"build"`
	// Role is leader, standby, or single (no leader election); Leader
	// the Lease's holder as last seen.
	Role     string `json:"role"`
	Leader   string `json:"leader,omitempty"`
	Identity string `json:"identity,omitempty"`
	Lease    string `json:"lease,omitempty"`

	Watch        Watch         `json:"watch"`
	CachesSynced bool          `json:"cachesSynced"`
	Config       ConfigState   `json:"config"`
	InPerMinute  *float64      `json:"eventsInPerMinute"`
	OutPerMinute *float64      `json:"eventsOutPerMinute"`
	Receivers    []ReceiverRow `json:"receivers"`
}

// Watch is the event watch's health.
type Watch struct {
	Healthy      bool      `json:"healthy"`
	LastSuccess  time.Time `json:"lastSuccess,omitzero"`
	FailingSince time.Time `json:"failingSince,omitzero"`
}

// ConfigState is the configuration file and its last reload.
type ConfigState struct {
	Path       string    `json:"path"`
	LastReload time.Time `json:"lastReload,omitzero"`
	// Result is applied, unchanged or refused; Errors why it was refused
	// (the running configuration stays in force).
	Result string   `json:"result,omitempty"`
	Errors []string `json:"errors,omitempty"`
}

// ReceiverRow is one receiver on the overview.
type ReceiverRow struct {
	Name    string    `json:"name"`
	Type    string    `json:"type"`
	State   string    `json:"state"` // delivering, retrying, rate_limited, idle; stopped when not delivering
	Since   time.Time `json:"retryingSince,omitzero"`
	Failure *Failure  `json:"lastFailure,omitempty"`
	Queued  int       `json:"queued"`
	Spooled int       `json:"spooled"`
	// DeadLetters since the start.
	DeadLetters float64   `json:"deadLetters"`
	LastSuccess time.Time `json:"lastSuccess,omitzero"`
	Grouping    bool      `json:"grouping"`
	// P50 and P99 are delivery latencies over the last five minutes, in
	// seconds (from the watch to the receiver's answer).
	P50 *float64 `json:"latencyP50Seconds"`
	P99 *float64 `json:"latencyP99Seconds"`
}

// Failure is a failed send as shown: class, HTTP status and host, never
// the error text (it can carry a response body).
type Failure struct {
	Class  string    `json:"class"`
	Status int       `json:"status,omitempty"`
	Host   string    `json:"host,omitempty"`
	At     time.Time `json:"at"`
}

// Events is /events.
type Events struct {
	Filter    recent.Filter `json:"filter"`
	Outcomes  []string      `json:"-"` // the filter's choices
	Receivers []string      `json:"-"`
	Size      int           `json:"size"` // the ring's
	Events    []EventRow    `json:"events"`
}

// JSONLink is this page's JSON twin with the same filter.
func (e Events) JSONLink() string {
	q := url.Values{"format": {"json"}}
	for k, v := range map[string]string{"namespace": e.Filter.Namespace, "reason": e.Filter.Reason,
		"receiver": e.Filter.Receiver, "outcome": e.Filter.Outcome} {
		if v != "" {
			q.Set(k, v)
		}
	}
	return "/events?" + q.Encode()
}

// EventRow is one recent event with where it went and why.
type EventRow struct {
	recent.Entry
	// NotReached are the configured receivers it was not routed to:
	// no rule sent it there, or DroppedBy's drop rule stopped it.
	NotReached []string `json:"notReached"`
}

// Groups is /groups.
type Groups struct {
	Receivers []ReceiverGroups `json:"receivers"`
}

// ReceiverGroups are one grouping receiver's active groups.
type ReceiverGroups struct {
	Receiver string          `json:"receiver"`
	Groups   []grouping.View `json:"groups"`
}

// Silences is /silences.
type Silences struct {
	Silences    []route.SilenceView       `json:"silences"`
	Annotations []route.AnnotationSilence `json:"annotationSilences"`
	Inhibits    []route.InhibitView       `json:"inhibits"`
}

// overview builds /.
func (h *handler) overview(now time.Time) Overview {
	st := h.o.Engine.Status()
	o := Overview{Build: buildinfo.Read(h.o.Version), Identity: st.Identity, Lease: st.Lease,
		CachesSynced: st.CachesSynced, Config: h.configState()}
	switch {
	case !st.LeaderElection:
		o.Role = "single"
	case st.Delivering:
		o.Role, o.Leader = "leader", st.Leader
	default:
		o.Role, o.Leader = "standby", st.Leader
	}
	o.Watch = Watch{Healthy: st.Delivering && st.WatchFailingSince.IsZero() && st.CachesSynced,
		LastSuccess: st.WatchLastSuccess, FailingSince: st.WatchFailingSince}
	rates := Now{}
	if h.o.Rates != nil {
		rates = h.o.Rates.At(now)
	}
	o.InPerMinute, o.OutPerMinute = rates.InPerMinute, rates.OutPerMinute
	for _, r := range st.Receivers {
		row := ReceiverRow{Name: r.Name, Type: r.Type, State: "stopped"}
		if r.Running {
			row.State, row.Since, row.Queued, row.Spooled = r.State, r.RetryingSince, r.Queued, r.Spooled
			row.LastSuccess, row.Grouping = r.LastSuccess, r.Grouping
			if !r.LastFailureAt.IsZero() {
				row.Failure = &Failure{Class: string(r.LastFailure.Class), Status: r.LastFailure.Status,
					Host: h.o.Secrets.String(r.LastFailure.Host), At: r.LastFailureAt}
			}
		}
		rr := rates.Receivers[r.Name]
		row.DeadLetters, row.P50, row.P99 = rr.DeadLetters, rr.P50, rr.P99
		o.Receivers = append(o.Receivers, row)
	}
	return o
}

func (h *handler) configState() ConfigState {
	if h.o.ConfigState == nil {
		return ConfigState{}
	}
	cs := h.o.ConfigState()
	cs.Path = h.o.Secrets.String(cs.Path)
	for i, e := range cs.Errors {
		cs.Errors[i] = h.o.Secrets.String(e)
	}
	return cs
}

// events builds /events.
func (h *handler) events(f recent.Filter) Events {
	names := h.receiverNames()
	ev := Events{Filter: f, Outcomes: recent.Outcomes, Receivers: names, Size: h.o.Recent.Size()}
	for _, e := range h.o.Recent.Snapshot(f, 0) {
		row := EventRow{Entry: e, NotReached: []string{}}
		for _, name := range names {
			if !slices.ContainsFunc(e.Receivers, func(d recent.Delivery) bool { return d.Receiver == name }) {
				row.NotReached = append(row.NotReached, name)
			}
		}
		for i := range row.Receivers {
			row.Receivers[i].Detail = h.o.Secrets.String(row.Receivers[i].Detail) // a group key holds event values only; a silence's "by" names config
		}
		ev.Events = append(ev.Events, row)
	}
	return ev
}

// groups builds /groups.
func (h *handler) groups() Groups {
	g := Groups{Receivers: []ReceiverGroups{}}
	for _, r := range h.o.Engine.Status().Receivers {
		if !r.Grouping {
			continue
		}
		g.Receivers = append(g.Receivers, ReceiverGroups{Receiver: r.Name, Groups: orEmpty(h.o.Engine.Groups(r.Name))})
	}
	return g
}

// silences builds /silences.
func (h *handler) silences(now time.Time) Silences {
	s, a, in := h.o.Engine.Config().Mute.Views(now)
	for i := range s {
		s[i].Match, s[i].Comment = h.o.Secrets.String(s[i].Match), h.o.Secrets.String(s[i].Comment)
	}
	for i := range in {
		in[i].Source, in[i].Target = h.o.Secrets.String(in[i].Source), h.o.Secrets.String(in[i].Target)
	}
	return Silences{Silences: orEmpty(s), Annotations: orEmpty(a), Inhibits: orEmpty(in)}
}

func (h *handler) receiverNames() []string {
	cfg := h.o.Engine.Config()
	names := make([]string, 0, len(cfg.Receivers))
	for _, r := range cfg.Receivers {
		names = append(names, r.Name)
	}
	slices.Sort(names)
	return names
}

func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// Engine is what the pages read of the engine (*exporter.Engine).
type Engine interface {
	Status() exporter.Status
	Groups(receiver string) []grouping.View
	Config() *config.Loaded
}
