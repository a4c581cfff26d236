package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// kubeEventerIgnored are kube-eventer's flags with no eventide
// counterpart, and what to say about each.
var kubeEventerIgnored = map[string]string{
	"source":        "eventide reads the cluster from its kubeconfig or in-cluster, and watches Events (-source is noted and ignored)",
	"frequency":     "kube-eventer pushed what it had every -frequency; eventide sends each event as it arrives, and batching receivers wait at most their flushInterval",
	"max_procs":     "Go sizes itself; the chart sets the CPU limit",
	"healthz-ip":    "eventide serves /healthz and /readyz on -metrics-address",
	"healthz-port":  "eventide serves /healthz and /readyz on -metrics-address",
	"event-metrics": "eventide's own metrics are on -metrics-address; per-event counters are a receiver of their own",
	"logtostderr":   "", "alsologtostderr": "", "stderrthreshold": "", "log_dir": "", "v": "", "vmodule": "", "log_backtrace_at": "",
	"log_file": "", "log_file_max_size": "", "skip_headers": "", "one_output": "", "add_dir_header": "", "skip_log_headers": "",
	"legacy_stderr_threshold_behavior": "", "version": "",
}

// migrateKubeEventer prints the route file that does what kube-eventer
// did with args: one receiver per --sink, its filters as route rules, its
// payloads as kube-eventer wrote them, secrets as ${VAR}.
func migrateKubeEventer(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("eventide migrate kube-eventer", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var sinks, sources multiFlag
	fs.Var(&sinks, "sink", "kube-eventer's --sink=TYPE:URL (repeatable)")
	fs.Var(&sources, "source", "kube-eventer's --source (noted, ignored)")
	customBody := fs.String("custom-body-file", "", "a file with the body template a webhook's custom_body_configmap held (its content key)")
	for name := range kubeEventerIgnored {
		if name != "source" {
			fs.String(name, "", "ignored")
		}
	}
	if err := fs.Parse(args); err != nil {
		return ExitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "eventide migrate kube-eventer: unexpected argument %q\n", fs.Arg(0))
		return ExitUsage
	}
	m := &keMigration{counts: map[string]int{}}
	if *customBody != "" {
		b, err := os.ReadFile(*customBody)
		if err == nil && len(b) > 1<<20 {
			err = fmt.Errorf("%s: over 1 MiB", *customBody)
		}
		if err != nil {
			fmt.Fprintln(stderr, "eventide migrate kube-eventer: -custom-body-file:", err)
			return ExitFailed
		}
		m.customBody = string(b)
	}
	var errs []error
	for _, s := range sinks {
		errs = append(errs, m.sink(s))
	}
	if len(sinks) == 0 {
		errs = append(errs, errors.New("no --sink: kube-eventer needs at least one"))
	}
	if err := errors.Join(errs...); err != nil {
		fmt.Fprintln(stderr, "eventide migrate kube-eventer:", err)
		return ExitFailed
	}
	fs.Visit(func(f *flag.Flag) {
		if why, ok := kubeEventerIgnored[f.Name]; ok {
			if why == "" {
				why = "eventide logs with -log-level and -log-format"
			}
			m.note("--%s is not translated: %s", f.Name, why)
		}
	})
	for _, n := range m.notes {
		fmt.Fprintln(stderr, "note:", n)
	}
	fmt.Fprint(stdout, m.routeFile())
	return ExitOK
}

// keMigration collects the route file's parts, sink by sink.
type keMigration struct {
	rules      []string // route.match entries, each a YAML block
	receivers  []string // receivers entries
	envs       []string // variables the file reads
	notes      []string
	counts     map[string]int // receivers per type, for names
	customBody string
	custom     bool // customBody was used
}

func (m *keMigration) note(format string, a ...any) {
	m.notes = append(m.notes, fmt.Sprintf(format, a...))
}

// name is the next receiver name for kube-eventer sink type kind.
func (m *keMigration) name(kind string) string {
	m.counts[kind]++
	return fmt.Sprintf("%s-%d", kind, m.counts[kind])
}

// secret records that receiver's what is a secret and returns the
// ${VAR} that stands for it.
func (m *keMigration) secret(receiver, what string) string {
	v := strings.ToUpper(strings.NewReplacer("-", "_", ".", "_").Replace(receiver + "_" + what))
	m.envs = append(m.envs, v)
	return "${" + v + "}"
}

// sink translates one --sink=TYPE:URL.
func (m *keMigration) sink(arg string) error {
	kind, rest, _ := strings.Cut(arg, ":")
	u, err := url.Parse(rest)
	if err != nil {
		return fmt.Errorf("--sink=%s: %v", kind, err)
	}
	translate, ok := kubeEventerSinks[kind]
	if !ok {
		if why, none := kubeEventerNoEquivalent[kind]; none {
			m.note("--sink=%s: %s", kind, why)
			m.rules = append(m.rules, fmt.Sprintf("    # --sink=%s: %s\n", kind, why))
			return nil
		}
		return fmt.Errorf("--sink=%s: not a kube-eventer sink (log, dingtalk, wechat, webhook, influxdb, mysql, elasticsearch, kafka, honeycomb, sls, riemann, mongo, eventbridge)", kind)
	}
	if err := translate(m, u); err != nil {
		return fmt.Errorf("--sink=%s: %w", kind, err)
	}
	return nil
}

var kubeEventerNoEquivalent = map[string]string{
	"riemann":     "eventide has no Riemann receiver; a webhook to a small forwarder is the way",
	"mongo":       "eventide has no MongoDB receiver; the sql receiver (PostgreSQL, MySQL) or elasticsearch keep events queryable",
	"eventbridge": "Alibaba Cloud EventBridge (not AWS's) has no eventide receiver; its HTTP source takes a webhook",
}

// routeFile is the whole file.
func (m *keMigration) routeFile() string {
	var b strings.Builder
	b.WriteString("# Translated from kube-eventer's flags by `eventide migrate kube-eventer`:\n")
	b.WriteString("# one receiver per --sink, its filters as route rules, its payloads as kube-eventer wrote them.\n")
	if len(m.envs) > 0 {
		b.WriteString("# The secrets the flags carried are read from these environment variables\n")
		b.WriteString("# (set them from a Secret in the Deployment):\n")
		for _, v := range m.envs {
			b.WriteString("#   " + v + "\n")
		}
	}
	b.WriteString("route:\n  match:\n")
	for _, r := range m.rules {
		b.WriteString(r)
	}
	b.WriteString("receivers:\n")
	for _, r := range m.receivers {
		b.WriteString(r)
	}
	return b.String()
}

// keFilter is a kube-eventer sink's event filter.
type keFilter struct {
	types      []string
	nsField    string // namespace (the event's) or objectNamespace
	namespaces []string
	kinds      []string
	reasons    []string // unanchored regular expressions
	comment    string
}

// rule is the route.match entry sending what f passes to receiver.
func (f keFilter) rule(receiver string) string {
	var b strings.Builder
	if f.comment != "" {
		b.WriteString(f.comment)
	}
	b.WriteString("    - receiver: " + receiver + "\n")
	if len(f.types) > 0 {
		b.WriteString("      type: " + yamlQuote(exactRegexp(f.types)) + "\n")
	}
	if len(f.namespaces) > 0 {
		b.WriteString("      " + f.nsField + ": " + yamlQuote(exactRegexp(f.namespaces)) + "   # an event without one (a Node's) never passes, as in kube-eventer\n")
	}
	if len(f.kinds) > 0 {
		b.WriteString("      kind: " + yamlQuote(exactRegexp(f.kinds)) + "\n")
	}
	if len(f.reasons) > 0 {
		b.WriteString("      reason: " + yamlQuote(strings.Join(f.reasons, "|")) + "\n")
	}
	return b.String()
}

// exactRegexp matches exactly one of values.
func exactRegexp(values []string) string {
	q := make([]string, len(values))
	for i, v := range values {
		q[i] = regexp.QuoteMeta(v)
	}
	return "^(?:" + strings.Join(q, "|") + ")$"
}

// keLevel is the types kube-eventer's level option lets through:
// Normal means Normal and Warning, Warning (and anything else) Warning.
func keLevel(level string) []string {
	if level == "Normal" {
		return []string{"Normal", "Warning"}
	}
	return []string{"Warning"}
}

// keValues is kube-eventer's getValues: the first value, split on commas;
// nil when absent or empty.
func keValues(opts url.Values, key string) []string {
	v := opts[key]
	if len(v) == 0 || v[0] == "" {
		return nil
	}
	return strings.Split(v[0], ",")
}

// yamlQuote is s as a YAML double-quoted scalar.
func yamlQuote(s string) string { return strconv.Quote(s) }

// unknownOptions notes the options of opts that are not in known.
func (m *keMigration) unknownOptions(kind string, opts url.Values, known ...string) {
	var keys []string
	for k := range opts {
		if !slices.Contains(known, k) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		m.note("--sink=%s: option %s is not one kube-eventer reads there; left out", kind, k)
	}
}
