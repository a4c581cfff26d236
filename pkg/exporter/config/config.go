// Package config loads and checks the route file: strict YAML (every
// unknown key and wrong type reported with its path, together), ${VAR}
// substitution, what a file may cost to load (limits.go), warnings for
// settings of the older tools (migrate.go), the receiver registry
// (registry.go), and the built receivers and compiled route tree a
// checked file yields (Loaded).
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/fields"

	"gopkg.in/yaml.v3"

	"github.com/eventide/eventide/pkg/exporter/grouping"
	"github.com/eventide/eventide/pkg/exporter/route"
	"github.com/eventide/eventide/pkg/exporter/runtime"
	"github.com/eventide/eventide/pkg/kube"
	"github.com/eventide/eventide/pkg/sinks"
)

// Config is the route file, in the format kubernetes-event-exporter users
// already have, plus eventide's additions.
type Config struct {
	LogLevel           string               `yaml:"logLevel"`
	LogFormat          string               `yaml:"logFormat"`
	MaxEventAgeSeconds *int64               `yaml:"maxEventAgeSeconds"`
	ThrottlePeriod     *int64               `yaml:"throttlePeriod"`
	ClusterName        string               `yaml:"clusterName"`
	Namespace          StringList           `yaml:"namespace"`
	LeaderElection     LeaderElectionConfig `yaml:"leaderElection"`
	KubeQPS            float32              `yaml:"kubeQPS"`
	KubeBurst          int                  `yaml:"kubeBurst"`
	EventFieldSelector string               `yaml:"eventFieldSelector"`
	MetricsNamePrefix  string               `yaml:"metricsNamePrefix"`
	OmitLookup         bool                 `yaml:"omitLookup"`
	CacheSize          int                  `yaml:"cacheSize"`
	Checkpoint         CheckpointConfig     `yaml:"checkpoint"`
	DeadLetter         DeadLetterConfig     `yaml:"deadLetter"`
	Spool              SpoolConfig          `yaml:"spool"`
	Route              route.Config         `yaml:"route"`
	Receivers          []ReceiverConfig     `yaml:"receivers"`
	// Silence and Inhibit mute events for silenceable receivers
	// (pkg/exporter/route/mute.go).
	Silence []route.Silence `yaml:"silence"`
	Inhibit []route.Inhibit `yaml:"inhibit"`
	// ExtraFields are copied into every event: .Extra.KEY in templates,
	// extra.KEY in group.by, "extra" in the whole-event JSON
	// (eventarbiter's -environment).
	ExtraFields map[string]string `yaml:"extraFields"`
	// Enrich says what else events carry about their object.
	Enrich EnrichConfig `yaml:"enrich"`
	// Heartbeat sends a synthetic event to the named receivers every
	// interval while the watch is healthy: a dead man's switch.
	Heartbeat *HeartbeatConfig `yaml:"heartbeat"`
}

// EnrichConfig turns on enrichment that costs a cache of its own.
type EnrichConfig struct {
	// Services: events about a pod, or a workload's pods, carry the
	// Services selecting them (a Service informer; RBAC list/watch on
	// services). Off by default.
	Services bool `yaml:"services"`
	// Annotations, when set, are the only annotation keys the caches keep
	// of the objects events are about ("prometheus.io/*" keeps a prefix):
	// on a large cluster, most of a pod's cached size is annotations
	// nobody reads. Default: all.
	Annotations []string `yaml:"annotations"`
}

// Bounds of extraFields: they are copied into every payload.
const (
	maxExtraFields     = 32
	maxExtraFieldBytes = 1024
)

// extraKeyRE is what an extraFields key may be: usable as .Extra.KEY.
var extraKeyRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,62}$`)

// CheckpointConfig says where eventide keeps what each receiver has
// acknowledged, so a restart resumes without loss or repeats.
type CheckpointConfig struct {
	Enabled   *bool         `yaml:"enabled"`   // default true
	Namespace string        `yaml:"namespace"` // default: eventide's own
	Name      string        `yaml:"name"`      // ConfigMap; default <leaderElectionID>-checkpoint
	Interval  time.Duration `yaml:"interval"`  // most one write per interval; default 1s
}

// On reports whether checkpoints are kept.
func (c CheckpointConfig) On() bool { return c.Enabled == nil || *c.Enabled }

// SpoolConfig is where receivers keep what their memory queue cannot hold.
type SpoolConfig struct {
	Dir       string `yaml:"dir"`       // default $TMPDIR/eventide/spool; "-" turns it off
	MaxSizeMB int    `yaml:"maxSizeMB"` // per receiver; default 256
}

// DeadLetterConfig is the file events rejected for good are written to.
type DeadLetterConfig struct {
	Path      string `yaml:"path"`      // default $TMPDIR/eventide/dead-letter.jsonl; "-" turns it off
	MaxSizeMB int    `yaml:"maxSizeMB"` // rotated beyond; default 100
}

// LeaderElectionConfig keeps the old keys; timings are eventide's addition.
type LeaderElectionConfig struct {
	Enabled          bool          `yaml:"enabled"`
	LeaderElectionID string        `yaml:"leaderElectionID"`
	LeaseDuration    time.Duration `yaml:"leaseDuration"`
	RenewDeadline    time.Duration `yaml:"renewDeadline"`
	RetryPeriod      time.Duration `yaml:"retryPeriod"`
}

// ReceiverConfig is a named receiver: exactly one receiver type (a key
// from the registry, registry.go) with its settings, and how its events
// are delivered.
type ReceiverConfig struct {
	Name     string           `yaml:"name"`
	Delivery runtime.Delivery `yaml:"delivery"`
	// Group, when set, sends one notification per group of events
	// instead of one per event (pkg/exporter/grouping).
	Group *grouping.Config `yaml:"group"`
	// Silenceable: silences and inhibition rules apply to this receiver.
	Silenceable bool `yaml:"silenceable"`
	// MaxPayloadBytes bounds one rendered payload (layout or whole
	// event); default sinks.MaxRenderBytes (1 MiB).
	MaxPayloadBytes int `yaml:"maxPayloadBytes"`
	// Types are the receiver type keys found; exactly one is valid.
	Types []string `yaml:"-"`
	// Settings are the settings of Types[0].
	Settings sinks.Builder `yaml:"-"`
	// fingerprint is the receiver's YAML as given (after ${VAR}
	// substitution): a reload rebuilds a receiver only when it changed.
	fingerprint string
	typeErrors  []string // values of the wrong type, as yaml.v3 words them
	// unknownKey: a key that is no receiver type (checkKeys reports it,
	// with a "did you mean"); it explains a missing type by itself.
	unknownKey bool
}

// UnmarshalYAML decodes name, delivery and the receiver type's settings
// into the type the registry gives for its key. Unknown keys are left to
// checkKeys, which reports them with their path.
func (r *ReceiverConfig) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: a receiver is a mapping (name, and one receiver type)", n.Line)}}
	}
	if b, err := yaml.Marshal(n); err == nil {
		r.fingerprint = string(b)
	}
	var terrs []string
	decode := func(v *yaml.Node, dst any) {
		if err := v.Decode(dst); err != nil {
			var te *yaml.TypeError
			if errors.As(err, &te) {
				terrs = append(terrs, te.Errors...)
			} else {
				terrs = append(terrs, err.Error())
			}
		}
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i].Value, n.Content[i+1]
		switch k {
		case "name":
			decode(v, &r.Name)
		case "delivery":
			decode(v, &r.Delivery)
		case "group":
			decode(v, &r.Group)
		case "silenceable":
			decode(v, &r.Silenceable)
		case "maxPayloadBytes":
			decode(v, &r.MaxPayloadBytes)
		default:
			settings := newReceiverSettings(k)
			if settings == nil {
				r.unknownKey = true
				continue
			}
			r.Types = append(r.Types, k)
			if r.Settings == nil {
				decode(v, settings)
				r.Settings = settings
			}
		}
	}
	// Not returned: yaml.v3 would drop this receiver from the list and
	// shift the index of every one after it. Load reports them.
	r.typeErrors = terrs
	return nil
}

// errReported is a build failure already reported by checkKeys.
var errReported = errors.New("reported as an unknown key")

// build checks that exactly one receiver type is set and builds its sink.
func (r *ReceiverConfig) build(path string, deps sinks.Deps) (sinks.Sink, error) {
	switch len(r.Types) {
	case 0:
		if r.unknownKey {
			return nil, errReported // a misspelt type: one error, not two
		}
		return nil, fmt.Errorf("%s: no receiver type set (one of %v)", path, ReceiverTypes())
	case 1:
	default:
		return nil, fmt.Errorf("%s: %d receiver types set (%v): a receiver has exactly one; split it into several receivers", path, len(r.Types), r.Types)
	}
	if deps.Stdout == nil {
		deps.Stdout = os.Stdout
	}
	return r.Settings.Build(path+"."+r.Types[0], deps)
}

// StringList is a YAML string or list of strings.
type StringList []string

// UnmarshalYAML accepts "a" and ["a", "b"].
func (s *StringList) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		if n.Value == "" {
			*s = nil
			return nil
		}
		*s = StringList{n.Value}
		return nil
	}
	var l []string
	if err := n.Decode(&l); err != nil {
		return err
	}
	*s = l
	return nil
}

// Defaults (of the old tool where it had one).
const (
	DefaultMaxEventAgeSeconds = 5
	DefaultCheckpointInterval = time.Second
	// DefaultKubeQPS and DefaultKubeBurst are each client's rate limit. The
	// watch and the informers make a handful of long requests; only the
	// lookups the caches cannot answer (a few per minute in a steady
	// cluster) use them, on a client of their own. client-go's own default
	// (5/s, burst 10) throttled start-up and bursts of deleted objects.
	DefaultKubeQPS          = 20
	DefaultKubeBurst        = 40
	DefaultLeaderElectionID = "eventide"
)

var metricsPrefixRE = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9_:]*_$`)

// Loaded is a checked configuration, ready to run.
type Loaded struct {
	Config    Config
	Tree      *route.Tree
	Mute      *route.Muting // the stage after the tree
	Receivers []runtime.Receiver
	// Warnings are accepted but deprecated or risky settings.
	Warnings []string
}

// Close closes every receiver's sink.
func (l *Loaded) Close() {
	for _, r := range l.Receivers {
		_ = r.Sink.Close()
	}
}

// MaxEventAge is maxEventAgeSeconds (or the deprecated throttlePeriod).
func (c *Config) MaxEventAge() time.Duration {
	switch {
	case c.MaxEventAgeSeconds != nil:
		return time.Duration(*c.MaxEventAgeSeconds) * time.Second
	case c.ThrottlePeriod != nil:
		return time.Duration(*c.ThrottlePeriod) * time.Second
	}
	return DefaultMaxEventAgeSeconds * time.Second
}

// LoadOptions are what Load needs from the process.
type LoadOptions struct {
	Deps sinks.Deps
	// LookupEnv resolves ${VAR}; os.LookupEnv when nil.
	LookupEnv func(string) (string, bool)
	// UnsetEnvIsWarning turns an unset ${VAR} into a warning (for
	// `eventide validate`, which runs away from the pod's environment).
	UnsetEnvIsWarning bool
}

// LoadFile reads and checks the configuration at path.
func LoadFile(path string, opts LoadOptions) (*Loaded, error) {
	b, err := ReadConfigFile(path)
	if err != nil {
		return nil, err
	}
	return Load(b, opts)
}

// ConfigError is every problem found in a configuration, each naming its
// path (receivers[3].webhook.endpoint: …).
type ConfigError struct{ Errs []error }

func (e *ConfigError) Error() string {
	msgs := make([]string, len(e.Errs))
	for i, err := range e.Errs {
		msgs[i] = err.Error()
	}
	noun := "errors"
	if len(msgs) == 1 {
		noun = "error"
	}
	return fmt.Sprintf("invalid configuration (%d %s):\n  %s", len(e.Errs), noun, strings.Join(msgs, "\n  "))
}

// flatten drops nils and splits joined errors, so each problem is one
// entry (and counted as one).
func flatten(errs []error) []error {
	var out []error
	for _, err := range errs {
		if j, ok := err.(interface{ Unwrap() []error }); ok && isJoined(err, j.Unwrap()) {
			out = append(out, flatten(j.Unwrap())...)
		} else if err != nil {
			out = append(out, err)
		}
	}
	return out
}

// isJoined: err is errors.Join(parts...), whose message is only theirs.
func isJoined(err error, parts []error) bool {
	var msgs []string
	for _, p := range parts {
		if p != nil {
			msgs = append(msgs, p.Error())
		}
	}
	return err.Error() == strings.Join(msgs, "\n")
}

// Unwrap gives the individual errors to errors.Is/As.
func (e *ConfigError) Unwrap() []error { return e.Errs }

// Load parses and checks a configuration: unknown keys, ${VAR} references,
// types, regexes, templates, receiver types and names. All problems are
// reported together in a *ConfigError. Sinks are built (templates parsed)
// but open nothing until their first send.
func Load(data []byte, opts LoadOptions) (*Loaded, error) {
	if len(data) > MaxConfigBytes {
		return nil, &ConfigError{Errs: []error{checkSize(data, &yaml.Node{})}}
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc, second yaml.Node
	if err := dec.Decode(&doc); err != nil && !errors.Is(err, io.EOF) {
		return nil, &ConfigError{Errs: []error{fmt.Errorf("yaml: %s", strings.TrimPrefix(err.Error(), "yaml: "))}}
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return nil, &ConfigError{Errs: []error{errors.New("config is empty: it needs at least route and receivers")}}
	}
	if err := dec.Decode(&second); !errors.Is(err, io.EOF) {
		return nil, &ConfigError{Errs: []error{fmt.Errorf("line %d: a second YAML document (after ---): eventide reads one; merge them", second.Line)}}
	}
	if err := checkSize(data, &doc); err != nil {
		return nil, &ConfigError{Errs: []error{err}}
	}
	root := doc.Content[0]
	var (
		errs     []error
		warnings []string
	)
	lookup := opts.LookupEnv
	if lookup == nil {
		lookup = os.LookupEnv
	}
	if opts.UnsetEnvIsWarning {
		strict := lookup
		lookup = func(name string) (string, bool) {
			if v, ok := strict(name); ok {
				return v, true
			}
			warnings = append(warnings, fmt.Sprintf("environment variable %s is not set here; it must be where eventide runs", name))
			return "unset-" + name, true
		}
	}
	templates := map[*yaml.Node]bool{}
	templateNodes(root, configType, false, templates)
	envVars := map[*yaml.Node]string{} // value → the ${VAR}s substituted in it
	substituteEnv(root, "", lookup, templates, envVars, &errs)
	warnings = append(warnings, migrate(root, lookup)...)
	checkKeys(root, configType, "", &errs)
	var cfg Config
	paths := map[int][]keyAt{}
	nodePaths(root, "", paths)
	if err := root.Decode(&cfg); err != nil {
		var te *yaml.TypeError
		if !errors.As(err, &te) {
			return nil, &ConfigError{Errs: append(errs, err)}
		}
		// A value of the wrong type is left zero; the other checks go on,
		// so every mistake is reported at once.
		for _, m := range te.Errors {
			errs = append(errs, typeError(m, paths, envVars))
		}
	}
	for _, rc := range cfg.Receivers {
		for _, m := range rc.typeErrors {
			errs = append(errs, typeError(m, paths, envVars))
		}
	}
	l := &Loaded{Warnings: warnings}
	errs = append(errs, cfg.check(l)...)
	errs = append(errs, checkEventMetricNames(cfg.Receivers, cfg.MetricsNamePrefix)...)
	receivers, rerrs := buildReceivers(cfg.Receivers, opts.Deps)
	errs = append(errs, rerrs...)
	names := make([]string, len(receivers))
	for i, r := range receivers {
		names[i] = r.Name
	}
	if len(receivers) < len(cfg.Receivers) {
		// Some failed to build; resolve route names against all of them so
		// one mistake is not reported again as "undefined receiver".
		names = names[:0]
		for _, rc := range cfg.Receivers {
			names = append(names, rc.Name)
		}
	}
	errs = append(errs, cfg.Heartbeat.check(names)...)
	tree, terrs := route.Compile(&cfg.Route, names)
	errs = append(errs, terrs...)
	known := map[string]bool{}
	for _, n := range names {
		known[n] = true
	}
	var silenceable []string
	for _, rc := range cfg.Receivers {
		if rc.Silenceable {
			silenceable = append(silenceable, rc.Name)
		}
	}
	mute, merrs := route.CompileMuting(cfg.Silence, cfg.Inhibit, silenceable, known)
	errs = append(errs, merrs...)
	if (len(cfg.Silence) > 0 || len(cfg.Inhibit) > 0) && !mute.Silenceable() {
		l.Warnings = append(l.Warnings, "silence and inhibit rules apply to no receiver: mark the receivers that notify people silenceable: true")
	}
	if errs = flatten(errs); len(errs) > 0 {
		for _, r := range receivers {
			_ = r.Sink.Close()
		}
		return nil, &ConfigError{Errs: errs}
	}
	l.Config, l.Tree, l.Mute, l.Receivers = cfg, tree, mute, receivers
	return l, nil
}

func (c *Config) check(l *Loaded) []error {
	var errs []error
	switch c.LogLevel {
	case "", "trace", "debug", "info", "warn", "error", "fatal", "panic":
	default:
		errs = append(errs, fmt.Errorf("logLevel: %q: use trace, debug, info, warn, error, fatal or panic", c.LogLevel))
	}
	if c.ThrottlePeriod != nil && *c.ThrottlePeriod == 0 {
		c.ThrottlePeriod = nil // 0 is unset, as in kubernetes-event-exporter
	}
	switch c.LogFormat {
	case "", "json", "pretty":
	default:
		errs = append(errs, fmt.Errorf("logFormat: %q: use json or pretty", c.LogFormat))
	}
	if c.MaxEventAgeSeconds != nil && c.ThrottlePeriod != nil {
		errs = append(errs, errors.New("throttlePeriod: set together with maxEventAgeSeconds: keep only maxEventAgeSeconds"))
	} else if c.ThrottlePeriod != nil {
		l.Warnings = append(l.Warnings, "throttlePeriod is deprecated: rename it to maxEventAgeSeconds")
	}
	if c.MaxEventAgeSeconds != nil && *c.MaxEventAgeSeconds < 0 {
		errs = append(errs, errors.New("maxEventAgeSeconds: must not be negative"))
	}
	for i, ns := range c.Namespace {
		if ns == "" {
			errs = append(errs, fmt.Errorf("namespace[%d]: empty namespace name", i))
		}
	}
	if c.MetricsNamePrefix != "" && !metricsPrefixRE.MatchString(c.MetricsNamePrefix) {
		errs = append(errs, fmt.Errorf("metricsNamePrefix: %q must match %s", c.MetricsNamePrefix, metricsPrefixRE))
	}
	if c.KubeQPS < 0 || c.KubeBurst < 0 || c.CacheSize < 0 {
		errs = append(errs, errors.New("kubeQPS, kubeBurst and cacheSize must not be negative"))
	}
	if c.KubeQPS == 0 {
		c.KubeQPS = DefaultKubeQPS
	}
	if c.KubeBurst == 0 {
		c.KubeBurst = DefaultKubeBurst
	}
	if _, err := fields.ParseSelector(c.EventFieldSelector); err != nil {
		errs = append(errs, fmt.Errorf("eventFieldSelector: %w", err))
	}
	le := &c.LeaderElection
	if le.LeaderElectionID == "" {
		le.LeaderElectionID = DefaultLeaderElectionID
	}
	if c.Checkpoint.Name == "" {
		c.Checkpoint.Name = le.LeaderElectionID + "-checkpoint"
	}
	if c.Checkpoint.Interval == 0 {
		c.Checkpoint.Interval = DefaultCheckpointInterval
	}
	if c.Checkpoint.Interval < 0 {
		errs = append(errs, errors.New("checkpoint.interval: must not be negative"))
	}
	if c.DeadLetter.Path == "" {
		c.DeadLetter.Path = filepath.Join(os.TempDir(), "eventide", "dead-letter.jsonl")
	}
	if c.DeadLetter.MaxSizeMB == 0 {
		c.DeadLetter.MaxSizeMB = 100
	}
	if c.Spool.Dir == "" {
		c.Spool.Dir = filepath.Join(os.TempDir(), "eventide", "spool")
	}
	if c.Spool.MaxSizeMB == 0 {
		c.Spool.MaxSizeMB = 256
	}
	if c.Spool.MaxSizeMB < 0 || c.DeadLetter.MaxSizeMB < 0 {
		errs = append(errs, errors.New("spool.maxSizeMB and deadLetter.maxSizeMB must not be negative"))
	}
	if le.LeaseDuration == 0 {
		le.LeaseDuration = kube.DefaultLeaseDuration
	}
	if le.RenewDeadline == 0 {
		le.RenewDeadline = kube.DefaultRenewDeadline
	}
	if le.RetryPeriod == 0 {
		le.RetryPeriod = kube.DefaultRetryPeriod
	}
	if !(le.LeaseDuration > le.RenewDeadline && float64(le.RenewDeadline) > 1.2*float64(le.RetryPeriod) && le.RetryPeriod > 0) {
		errs = append(errs, fmt.Errorf("leaderElection: need leaseDuration (%s) > renewDeadline (%s) > 1.2 x retryPeriod (%s)",
			le.LeaseDuration, le.RenewDeadline, le.RetryPeriod))
	}
	if len(c.Receivers) == 0 {
		errs = append(errs, errors.New("receivers: none defined: events would go nowhere"))
	}
	for i, k := range c.Enrich.Annotations {
		if strings.TrimSuffix(k, "*") == "" || strings.Contains(strings.TrimSuffix(k, "*"), "*") {
			errs = append(errs, fmt.Errorf("enrich.annotations[%d]: %q: an annotation key, or a prefix ending in *", i, k))
		}
	}
	if c.Enrich.Services && c.OmitLookup {
		errs = append(errs, errors.New("enrich.services: needs the metadata lookups that omitLookup: true turns off"))
	}
	return append(errs, c.checkExtraFields()...)
}

func (c *Config) checkExtraFields() []error {
	var errs []error
	if len(c.ExtraFields) > maxExtraFields {
		errs = append(errs, fmt.Errorf("extraFields: %d fields, at most %d (they go into every payload)", len(c.ExtraFields), maxExtraFields))
	}
	for _, k := range slices.Sorted(maps.Keys(c.ExtraFields)) {
		if !extraKeyRE.MatchString(k) {
			errs = append(errs, fmt.Errorf("extraFields.%s: a key must match %s (it is read as .Extra.KEY)", k, extraKeyRE))
		}
		if len(c.ExtraFields[k]) > maxExtraFieldBytes {
			errs = append(errs, fmt.Errorf("extraFields.%s: %d bytes, at most %d", k, len(c.ExtraFields[k]), maxExtraFieldBytes))
		}
	}
	return errs
}

func buildReceivers(cfgs []ReceiverConfig, deps sinks.Deps) ([]runtime.Receiver, []error) {
	var (
		errs []error
		out  []runtime.Receiver
		seen = map[string]int{}
	)
	for i := range cfgs {
		rc := &cfgs[i]
		path := fmt.Sprintf("receivers[%d]", i)
		switch rc.Name {
		case "":
			errs = append(errs, fmt.Errorf("%s.name: required", path))
		case ".", "..":
			errs = append(errs, fmt.Errorf("%s.name: %q is not a receiver name", path, rc.Name))
		}
		if j, dup := seen[rc.Name]; dup && rc.Name != "" {
			errs = append(errs, fmt.Errorf("%s.name: %q already names receivers[%d]", path, rc.Name, j))
		}
		seen[rc.Name] = i
		d, derrs := rc.Delivery.WithDefaults(path + ".delivery")
		errs = append(errs, derrs...)
		deps.Receiver = rc.Name
		switch deps.MaxPayloadBytes = rc.MaxPayloadBytes; {
		case rc.MaxPayloadBytes == 0:
			deps.MaxPayloadBytes = sinks.MaxRenderBytes
		case rc.MaxPayloadBytes < 1024 || rc.MaxPayloadBytes > MaxPayloadBytesLimit:
			errs = append(errs, fmt.Errorf("%s.maxPayloadBytes: %d is not between 1024 and %d", path, rc.MaxPayloadBytes, MaxPayloadBytesLimit))
			deps.MaxPayloadBytes = sinks.MaxRenderBytes
		}
		s, err := rc.build(path, deps)
		if err != nil {
			if err != errReported {
				errs = append(errs, err)
			}
			continue
		}
		d = robotDefaults(path, rc, d, s, deps)
		var group *grouping.Config
		if rc.Group != nil {
			g, err := rc.Group.Check(path + ".group")
			if err != nil {
				errs = append(errs, err)
			}
			group = &g
		}
		out = append(out, runtime.Receiver{Name: rc.Name, Type: rc.Types[0], Delivery: d, Sink: s, Group: group, Fingerprint: rc.fingerprint})
	}
	return out, errs
}
