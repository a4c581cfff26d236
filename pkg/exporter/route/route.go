// Package route owns what decides where an event goes: the route tree
// (compiled once from the route file; Match is pure) and muting, the
// stage after it (silences and inhibition rules, with the inhibitions'
// state). Their YAML shapes live here too (config.go).
package route

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/eventide/eventide/pkg/kube/event"
)

// Tree is the compiled route tree. Match is pure: no I/O, no goroutines, and
// no allocation beyond growing the caller's slice.
type Tree struct {
	root   *route
	routes []string // route labels (id or path), indexed by route.id, for metrics
}

type route struct {
	id     int
	drop   []*rule
	match  []*rule
	routes []*route
}

type rule struct {
	fields      []fieldMatch
	services    *regexp.Regexp // any one Service must match; nil: no service rule
	labels      []kvMatch
	annotations []kvMatch
	minCount    int32
	receiver    string // receiver name; "" when none
	not         *rule
}

type fieldMatch struct {
	get func(*event.EnhancedEvent) string
	re  *regexp.Regexp
}

type kvMatch struct {
	key string
	re  *regexp.Regexp
}

// routeIDPattern is what a route's id may be: a metric label value kept short.
var routeIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$`)

// Routes lists route labels (the id, or the path) in the order Match's onRoute reports them.
func (t *Tree) Routes() []string { return t.routes }

// Match appends to dst the name of every receiver ev is routed to, each
// once, and calls onRoute (when not nil) with the id of every route that
// sent the event somewhere.
//
// For each route: if any drop rule matches, the route and its subtree stop;
// each matching match rule that names a receiver sends the event there; only
// when every match rule matched (true for none) do the child routes run.
func (t *Tree) Match(ev *event.EnhancedEvent, dst []string, onRoute func(int)) []string {
	return t.root.process(ev, dst, onRoute, nil)
}

// Trace is Match that also calls onDrop with the id of every route whose
// drop rule stopped it (the status page says why an event went nowhere).
func (t *Tree) Trace(ev *event.EnhancedEvent, dst []string, onRoute, onDrop func(int)) []string {
	return t.root.process(ev, dst, onRoute, onDrop)
}

func (r *route) process(ev *event.EnhancedEvent, dst []string, onRoute, onDrop func(int)) []string {
	for _, d := range r.drop {
		if d.matches(ev) {
			if onDrop != nil {
				onDrop(r.id)
			}
			return dst
		}
	}
	all, sent := true, false
	for _, m := range r.match {
		if !m.matches(ev) {
			all = false
			continue
		}
		if m.receiver != "" {
			dst = appendUnique(dst, m.receiver)
			sent = true
		}
	}
	if sent && onRoute != nil {
		onRoute(r.id)
	}
	if all {
		for _, c := range r.routes {
			dst = c.process(ev, dst, onRoute, onDrop)
		}
	}
	return dst
}

func appendUnique(dst []string, v string) []string {
	for _, x := range dst {
		if x == v {
			return dst
		}
	}
	return append(dst, v)
}

func (r *rule) matches(ev *event.EnhancedEvent) bool {
	for i := range r.fields {
		if !r.fields[i].re.MatchString(r.fields[i].get(ev)) {
			return false
		}
	}
	if !matchKV(r.labels, ev.InvolvedObject.Labels) || !matchKV(r.annotations, ev.InvolvedObject.Annotations) {
		return false
	}
	if r.services != nil && !slices.ContainsFunc(ev.InvolvedObject.Services, r.services.MatchString) {
		return false
	}
	if r.minCount > 0 && ev.GetCount() < r.minCount {
		return false
	}
	if r.not != nil && r.not.matches(ev) {
		return false
	}
	return true
}

// matchKV: every key must exist and its value match.
func matchKV(ms []kvMatch, m map[string]string) bool {
	for _, kv := range ms {
		v, ok := m[kv.key]
		if !ok || !kv.re.MatchString(v) {
			return false
		}
	}
	return true
}

// Compile compiles cfg; receivers are the defined receiver names.
func Compile(cfg *Config, receivers []string) (*Tree, []error) {
	t := &Tree{}
	index := make(map[string]bool, len(receivers))
	for _, n := range receivers {
		index[n] = true
	}
	var errs []error
	ids := map[string]string{}
	t.root = t.compileRoute(cfg, "route", index, ids, &errs)
	return t, errs
}

// compileRoute compiles cfg at path; ids maps the route ids seen so far to
// their paths, so a repeated id is refused.
func (t *Tree) compileRoute(cfg *Config, path string, receivers map[string]bool, ids map[string]string, errs *[]error) *route {
	r := &route{id: len(t.routes)}
	label := path
	if cfg.ID != "" {
		label = cfg.ID
		if !routeIDPattern.MatchString(cfg.ID) {
			*errs = append(*errs, fmt.Errorf("%s.id: %q is not a route id (letters, digits, '.', '_' and '-', at most 63)", path, cfg.ID))
		} else if other, dup := ids[cfg.ID]; dup {
			*errs = append(*errs, fmt.Errorf("%s.id: %q is already the id of %s", path, cfg.ID, other))
		}
		ids[cfg.ID] = path
	}
	t.routes = append(t.routes, label)
	for i := range cfg.Drop {
		p := fmt.Sprintf("%s.drop[%d]", path, i)
		if cfg.Drop[i].Receiver != "" {
			*errs = append(*errs, fmt.Errorf("%s.receiver: a drop rule sends nowhere; move the receiver to a match rule", p))
		}
		r.drop = append(r.drop, compileRule(&cfg.Drop[i], p, receivers, errs))
	}
	for i := range cfg.Match {
		r.match = append(r.match, compileRule(&cfg.Match[i], fmt.Sprintf("%s.match[%d]", path, i), receivers, errs))
	}
	for i := range cfg.Routes {
		r.routes = append(r.routes, t.compileRoute(&cfg.Routes[i], fmt.Sprintf("%s.routes[%d]", path, i), receivers, ids, errs))
	}
	return r
}

func compileRule(c *Rule, path string, receivers map[string]bool, errs *[]error) *rule {
	r := &rule{minCount: c.MinCount}
	if c.Preset != "" {
		p, err := preset(c.Preset)
		if err != nil {
			*errs = append(*errs, fmt.Errorf("%s.preset: %w", path, err))
		}
		r.fields = compileRule(&p, path+".preset", receivers, errs).fields
	}
	add := func(key, pattern string) {
		if pattern == "" {
			return
		}
		re, err := compileRegex(path+"."+key, pattern)
		if err == nil && key == "class" {
			// Checked as written, so an error quotes what the user wrote.
			re, err = compileRegex(path+"."+key, expandClassAliases(pattern))
		}
		if err != nil {
			*errs = append(*errs, err)
			return
		}
		r.fields = append(r.fields, fieldMatch{get: event.Fields[key], re: re})
	}
	add("message", c.Message)
	add("apiVersion", c.APIVersion)
	add("kind", c.Kind)
	add("namespace", c.Namespace)
	add("reason", c.Reason)
	add("type", c.Type)
	add("component", c.Component)
	add("host", c.Host)
	add("name", c.Name)
	add("objectNamespace", c.ObjectNamespace)
	add("workloadKind", c.WorkloadKind)
	add("workloadName", c.WorkloadName)
	add("class", c.Class)
	add("classDetail", c.ClassDetail)
	if c.Service != "" {
		re, err := compileRegex(path+".service", c.Service)
		if err != nil {
			*errs = append(*errs, err)
		}
		r.services = re
	}
	r.labels = compileKV(path+".labels", c.Labels, errs)
	r.annotations = compileKV(path+".annotations", c.Annotations, errs)
	if c.MinCount < 0 {
		*errs = append(*errs, fmt.Errorf("%s.minCount: must not be negative", path))
	}
	if c.Receiver != "" {
		if !receivers[c.Receiver] {
			*errs = append(*errs, fmt.Errorf("%s.receiver: undefined receiver %q (defined: %v)", path, c.Receiver, sortedNames(receivers)))
		}
		r.receiver = c.Receiver
	}
	if c.Not != nil {
		if c.Not.Receiver != "" {
			*errs = append(*errs, fmt.Errorf("%s.not.receiver: a not rule sends nowhere; put the receiver on the rule", path))
		}
		r.not = compileRule(c.Not, path+".not", receivers, errs)
	}
	return r
}

func compileKV(path string, m map[string]string, errs *[]error) []kvMatch {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]kvMatch, 0, len(keys))
	for _, k := range keys {
		re, err := compileRegex(path+"."+k, m[k])
		if err != nil {
			*errs = append(*errs, err)
			continue
		}
		out = append(out, kvMatch{key: k, re: re})
	}
	return out
}

func compileRegex(path, pattern string) (*regexp.Regexp, error) {
	re, err := regexp.Compile(pattern)
	if err != nil {
		hint := ""
		if strings.Contains(pattern, "*") && !strings.Contains(pattern, ".*") {
			hint = fmt.Sprintf(" (this is a regular expression, not a glob: write %q)", strings.ReplaceAll(pattern, "*", ".*"))
		}
		return nil, fmt.Errorf("%s: invalid regular expression %q: %w%s", path, pattern, err, hint)
	}
	return re, nil
}

func sortedNames(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
