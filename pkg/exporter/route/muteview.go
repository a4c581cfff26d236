package route

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"
)

// What the status page shows of muting: the route file's silences, the
// annotation silences seen on events, and the inhibit rules' active
// sources.

// SilenceView is one `silence` entry.
type SilenceView struct {
	Match   string    `json:"match"`
	Until   time.Time `json:"until"`
	Comment string    `json:"comment,omitempty"`
	Active  bool      `json:"active"`
}

// AnnotationSilence is a silence-until annotation seen in force on an
// event's object or namespace.
type AnnotationSilence struct {
	On    string    `json:"on"` // Kind namespace/name, or "namespace NAME"
	Until time.Time `json:"until"`
}

// InhibitView is one `inhibit` rule and its sources active now.
type InhibitView struct {
	Source  string         `json:"source"`
	Target  string         `json:"target"`
	Equal   []string       `json:"equal"`
	For     time.Duration  `json:"for"`
	Sources []ActiveSource `json:"sources"` // the most recent first, at most maxViewSources
	More    int            `json:"more"`    // active sources not listed
}

// ActiveSource is an inhibit rule's source: the equal fields' values
// and its last occurrence.
type ActiveSource struct {
	Values []string  `json:"values"`
	Last   time.Time `json:"last"`
}

// maxViewSources bounds the sources listed per rule; maxAnnotationSilences
// the annotation silences remembered.
const (
	maxViewSources        = 50
	maxAnnotationSilences = 1000
)

// annotationSilences remembers the annotation silences that muted events.
type annotationSilences struct {
	mu   sync.Mutex
	seen map[string]time.Time
}

func (a *annotationSilences) note(on string, until time.Time, now time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.seen == nil {
		a.seen = map[string]time.Time{}
	}
	if len(a.seen) >= maxAnnotationSilences {
		for k, t := range a.seen {
			if !now.Before(t) {
				delete(a.seen, k)
			}
		}
		if len(a.seen) >= maxAnnotationSilences {
			return
		}
	}
	a.seen[on] = until
}

// Silences are the route file's silences, the annotation silences in
// force that muted events, and the inhibit rules with their active
// sources, as of now.
func (m *Muting) Views(now time.Time) (silences []SilenceView, annotations []AnnotationSilence, inhibits []InhibitView) {
	if m == nil {
		return nil, nil, nil
	}
	for i, s := range m.silences {
		silences = append(silences, SilenceView{Match: describeRule(&m.config[i].Match), Until: s.until,
			Comment: m.config[i].Comment, Active: now.Before(s.until)})
	}
	m.annotated.mu.Lock()
	for on, until := range m.annotated.seen {
		if now.Before(until) {
			annotations = append(annotations, AnnotationSilence{On: on, Until: until})
		}
	}
	m.annotated.mu.Unlock()
	slices.SortFunc(annotations, func(a, b AnnotationSilence) int { return strings.Compare(a.On, b.On) })
	for i, in := range m.inhibitions {
		cfg := &m.inhibitConfig[i]
		v := InhibitView{Source: describeRule(&cfg.Source), Target: describeRule(&cfg.Target), Equal: cfg.Equal, For: cfg.For}
		in.mu.Lock()
		for key, last := range in.active {
			if now.Before(last.Add(in.window)) {
				v.Sources = append(v.Sources, ActiveSource{Values: strings.Split(key, "\x00"), Last: last})
			}
		}
		in.mu.Unlock()
		slices.SortFunc(v.Sources, func(a, b ActiveSource) int { return b.Last.Compare(a.Last) })
		if len(v.Sources) > maxViewSources {
			v.More, v.Sources = len(v.Sources)-maxViewSources, v.Sources[:maxViewSources]
		}
		inhibits = append(inhibits, v)
	}
	return silences, annotations, inhibits
}

// describeRule writes r's set fields as `key=value`, in the file's order.
func describeRule(r *Rule) string {
	var parts []string
	v := reflect.ValueOf(r).Elem()
	for i := 0; i < v.NumField(); i++ {
		f := v.Field(i)
		key, _, _ := strings.Cut(v.Type().Field(i).Tag.Get("yaml"), ",")
		if key == "" || key == "-" || f.IsZero() {
			continue
		}
		switch x := f.Interface().(type) {
		case *Rule:
			parts = append(parts, "not("+describeRule(x)+")")
		case map[string]string:
			for _, k := range slices.Sorted(maps.Keys(x)) {
				parts = append(parts, fmt.Sprintf("%s.%s=%s", key, k, x[k]))
			}
		default:
			parts = append(parts, fmt.Sprintf("%s=%v", key, x))
		}
	}
	if len(parts) == 0 {
		return "(every event)"
	}
	return strings.Join(parts, " ")
}
