package route

import (
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/eventide/eventide/pkg/kube/event"
)

// Muting: silences and inhibition rules keep notifications about known
// problems from receivers marked `silenceable: true` (chat, paging); other
// receivers (archives) get every event. A muted event is counted in
// eventide_events_muted_total{receiver,reason} and not sent there.

// SilenceAnnotation on an involved object or its namespace silences
// events about it until the RFC 3339 time it holds.
const SilenceAnnotation = "eventide.io/silence-until"

// Reasons of eventide_events_muted_total.
const (
	MuteSilenced  = "silenced"
	MuteInhibited = "inhibited"
)

// Silence is one `silence` entry: events matching Match are
// silenced until Until.
type Silence struct {
	Match   Rule      `yaml:"match"`
	Until   time.Time `yaml:"until"`
	Comment string    `yaml:"comment"`
}

// Inhibit is one `inhibit` rule, in Alertmanager's shape: while an
// event matching Source occurred within For, events matching Target whose
// Equal fields have the same values are inhibited. Events have no end, so
// a source is active until For after its last occurrence.
type Inhibit struct {
	Source Rule          `yaml:"source"`
	Target Rule          `yaml:"target"`
	Equal  []string      `yaml:"equal"`
	For    time.Duration `yaml:"for"`
}

// maxActiveSources bounds the active sources remembered per rule.
const maxActiveSources = 10000

type silence struct {
	rule  *rule
	until time.Time
}

type inhibition struct {
	source, target *rule
	equal          []func(*event.EnhancedEvent) string
	window         time.Duration

	mu     sync.Mutex
	active map[string]time.Time // equal values → last source occurrence
}

// Muting is the compiled silences and inhibition rules, the receivers
// they apply to, and the inhibitions' state (the sources seen). It is a
// stage of its own after the route tree; a reload swaps it whole.
type Muting struct {
	silences    []silence
	inhibitions []*inhibition
	receivers   map[string]bool // silenceable receivers
	// As written, for the status page (muteview.go), and the
	// annotation silences that muted events.
	config        []Silence
	inhibitConfig []Inhibit
	annotated     annotationSilences
}

// CompileMuting compiles the silences and inhibit rules, which apply to
// the silenceable receivers; receivers are every defined receiver name.
func CompileMuting(silences []Silence, inhibits []Inhibit, silenceable []string, receivers map[string]bool) (*Muting, []error) {
	m := &Muting{receivers: map[string]bool{}, config: silences, inhibitConfig: inhibits}
	var errs []error
	for _, name := range silenceable {
		m.receivers[name] = true
	}
	for i := range silences {
		s := &silences[i]
		path := fmt.Sprintf("silence[%d]", i)
		if s.Until.IsZero() {
			errs = append(errs, fmt.Errorf("%s.until: required: an RFC 3339 time (2026-12-01T06:00:00Z)", path))
		}
		r := compileRule(&s.Match, path+".match", receivers, &errs)
		if s.Match.Receiver != "" {
			errs = append(errs, fmt.Errorf("%s.match.receiver: a silence sends nowhere; mark the receivers silenceable instead", path))
		}
		m.silences = append(m.silences, silence{rule: r, until: s.Until})
	}
	for i := range inhibits {
		ic := &inhibits[i]
		path := fmt.Sprintf("inhibit[%d]", i)
		in := &inhibition{source: compileRule(&ic.Source, path+".source", receivers, &errs),
			target: compileRule(&ic.Target, path+".target", receivers, &errs), window: ic.For, active: map[string]time.Time{}}
		if ic.Source.Receiver != "" || ic.Target.Receiver != "" {
			errs = append(errs, fmt.Errorf("%s: source and target send nowhere; drop their receiver", path))
		}
		if ic.For <= 0 {
			errs = append(errs, fmt.Errorf("%s.for: required: how long a source stays active after its last occurrence (10m)", path))
		}
		for j, f := range ic.Equal {
			get, ok := event.Field(f)
			if !ok {
				errs = append(errs, fmt.Errorf("%s.equal[%d]: %q is not an event field", path, j, f))
				continue
			}
			in.equal = append(in.equal, get)
		}
		m.inhibitions = append(m.inhibitions, in)
	}
	return m, errs
}

// Applies reports whether receiver is silenceable.
func (m *Muting) Applies(receiver string) bool { return m != nil && m.receivers[receiver] }

// Silenceable reports whether any receiver is silenceable.
func (m *Muting) Silenceable() bool { return m != nil && len(m.receivers) > 0 }

// Observe records ev as a source of the inhibition rules it matches.
func (m *Muting) Observe(ev *event.EnhancedEvent) {
	if m == nil {
		return
	}
	for _, in := range m.inhibitions {
		if !in.source.matches(ev) {
			continue
		}
		key := in.key(ev)
		at := ev.GetLastTime()
		in.mu.Lock()
		if len(in.active) >= maxActiveSources {
			in.expire(time.Now())
		}
		if at.After(in.active[key]) {
			in.active[key] = at
		}
		in.mu.Unlock()
	}
}

// Why is the reason ev is muted at now (silenced, inhibited), or "".
// nsAnnotations gives a namespace's annotations from the metadata cache
// (nil without enrichment, and offline).
func (m *Muting) Why(ev *event.EnhancedEvent, now time.Time, nsAnnotations func(string) map[string]string) string {
	reason, _ := m.Explain(ev, now, nsAnnotations)
	return reason
}

// Explain is Why with what muted ev: "silence[2]", "annotation on Pod
// ns/name", "annotation on namespace ns", "inhibit[0]".
func (m *Muting) Explain(ev *event.EnhancedEvent, now time.Time, nsAnnotations func(string) map[string]string) (reason, by string) {
	if m == nil {
		return "", ""
	}
	for i, s := range m.silences {
		if now.Before(s.until) && s.rule.matches(ev) {
			return MuteSilenced, fmt.Sprintf("silence[%d]", i)
		}
	}
	if until, ok := silencedBy(ev.InvolvedObject.Annotations, now); ok {
		o := &ev.InvolvedObject
		on := o.Kind + " " + o.Namespace + "/" + o.Name
		m.annotated.note(on, until, now)
		return MuteSilenced, "annotation on " + on
	}
	if nsAnnotations != nil {
		if until, ok := silencedBy(nsAnnotations(ev.InvolvedObject.Namespace), now); ok {
			on := "namespace " + ev.InvolvedObject.Namespace
			m.annotated.note(on, until, now)
			return MuteSilenced, "annotation on " + on
		}
	}
	for i, in := range m.inhibitions {
		// An event matching both sides does not inhibit itself.
		if !in.target.matches(ev) || in.source.matches(ev) {
			continue
		}
		in.mu.Lock()
		last, ok := in.active[in.key(ev)]
		in.mu.Unlock()
		if ok && now.Before(last.Add(in.window)) {
			return MuteInhibited, fmt.Sprintf("inhibit[%d]", i)
		}
	}
	return "", ""
}

func (in *inhibition) key(ev *event.EnhancedEvent) string {
	parts := make([]string, len(in.equal))
	for i, get := range in.equal {
		parts[i] = get(ev)
	}
	return strings.Join(parts, "\x00")
}

// expire forgets sources no longer active; the caller holds in.mu.
func (in *inhibition) expire(now time.Time) {
	for k, t := range in.active {
		if !now.Before(t.Add(in.window)) {
			delete(in.active, k)
		}
	}
	if len(in.active) >= maxActiveSources {
		clear(in.active) // still full of active ones: bounded, start over
	}
}

// silencedBy says until when annotations hold a silence still running.
func silencedBy(annotations map[string]string, now time.Time) (time.Time, bool) {
	v, ok := annotations[SilenceAnnotation]
	if !ok {
		return time.Time{}, false
	}
	until, err := time.Parse(time.RFC3339, strings.TrimSpace(v))
	return until, err == nil && now.Before(until)
}
