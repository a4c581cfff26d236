package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// eventarbiterAlarms are eventarbiter's alarms in its last version, in
// its README's order; each is an eventide preset of the same name.
var eventarbiterAlarms = []string{"node_notready", "node_notschedulable", "node_systemoom", "node_rebooted",
	"pod_backoff", "pod_failed", "pod_failedsync", "pod_unhealthy", "pod_failedscheduling", "npd_oomkilling", "npd_taskhung"}

// eventarbiterOldAlarms are names of its earlier versions, which
// pod_failedscheduling replaced.
var eventarbiterOldAlarms = []string{"pod_insufficientcpu", "pod_insufficentcpu", "pod_insufficientmemory"}

// eventarbiterIgnored are its flags that have no eventide counterpart:
// glog's, and its own tuning.
var eventarbiterIgnored = []string{"source", "max_procs", "log_flush_frequency", "event_chan_length", "logtostderr",
	"alsologtostderr", "stderrthreshold", "log_dir", "v", "vmodule", "log_backtrace_at"}

// eventarbiterPodLayout and eventarbiterNodeLayout are the bodies its
// callback sink POSTs (models.PodEventAlert, models.NodeEventAlert).
const eventarbiterPodLayout = `        kind: "{{ upper .InvolvedObject.Kind }}"
        name: "{{ .InvolvedObject.Name }}"
        namespace: "{{ .Namespace }}"
        host: "{{ .Source.Host }}"
        reason: "{{ .Reason }}"
        last_timestamp: "{{ .LastTimestamp.Local.String }}"
        message: "{{ .Message }}"
        environment: !json "{{ if .Extra }}{{ toJson .Extra }}{{ else }}{}{{ end }}"
`

const eventarbiterNodeLayout = `        kind: "{{ upper .InvolvedObject.Kind }}"
        name: "{{ .InvolvedObject.Name }}"
        namespace: "{{ .Namespace }}"
        reason: "{{ .Reason }}"
        last_timestamp: "{{ .LastTimestamp.Local.String }}"
        message: "{{ .Message }}"
        environment: !json "{{ if .Extra }}{{ toJson .Extra }}{{ else }}{}{{ end }}"
`

// migrateEventarbiter prints the route file that does what eventarbiter
// did with args: its alarms (presets) not in -event_filter, to each
// -sink, with -environment as extraFields.
func migrateEventarbiter(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("eventide migrate eventarbiter", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var sinks, filters, envs multiFlag
	fs.Var(&sinks, "sink", "callback:URL or stdout (repeatable)")
	fs.Var(&filters, "event_filter", "alarms left out, comma-separated")
	fs.Var(&envs, "environment", "k=v pairs, comma-separated")
	ignored := map[string]*string{}
	for _, name := range eventarbiterIgnored {
		ignored[name] = fs.String(name, "", "ignored")
	}
	if err := fs.Parse(args); err != nil {
		return ExitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "eventide migrate eventarbiter: unexpected argument %q\n", fs.Arg(0))
		return ExitUsage
	}
	out, notes, err := eventarbiterRouteFile(sinks, filters, envs)
	if err != nil {
		fmt.Fprintln(stderr, "eventide migrate eventarbiter:", err)
		return ExitFailed
	}
	fs.Visit(func(f *flag.Flag) {
		if _, ok := ignored[f.Name]; ok {
			notes = append(notes, fmt.Sprintf("-%s is not translated: eventide has no counterpart (it reads the cluster from its kubeconfig or in-cluster, and logs with -log-level)", f.Name))
		}
	})
	for _, n := range notes {
		fmt.Fprintln(stderr, "note:", n)
	}
	fmt.Fprint(stdout, out)
	return ExitOK
}

// eventarbiterRouteFile builds the route file, and notes on what changed.
func eventarbiterRouteFile(sinks, filters, envs []string) (string, []string, error) {
	var errs []error
	var notes []string
	filtered := map[string]bool{}
	for _, list := range filters {
		for _, name := range strings.Split(list, ",") {
			name = strings.TrimSpace(name)
			switch {
			case name == "":
			case slices.Contains(eventarbiterAlarms, name):
				filtered[name] = true
			case slices.Contains(eventarbiterOldAlarms, name):
				notes = append(notes, fmt.Sprintf("-event_filter=%s: an alarm of eventarbiter's earlier versions, now part of pod_failedscheduling (filter that to leave it out)", name))
			default:
				errs = append(errs, fmt.Errorf("-event_filter: unknown alarm %q (eventarbiter's: %s)", name, strings.Join(eventarbiterAlarms, ", ")))
			}
		}
	}
	env := map[string]string{}
	for _, list := range envs {
		for _, pair := range strings.Split(list, ",") {
			if strings.TrimSpace(pair) == "" {
				continue
			}
			k, v, ok := strings.Cut(pair, "=")
			if !ok || strings.TrimSpace(k) == "" {
				errs = append(errs, fmt.Errorf("-environment: %q is not key=value", pair))
				continue
			}
			env[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	var receivers, callbacks []string
	stdout := false
	for _, s := range sinks {
		switch kind, arg, _ := strings.Cut(s, ":"); kind {
		case "stdout":
			stdout = true
		case "callback":
			u, err := url.Parse(arg)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				errs = append(errs, fmt.Errorf("-sink=%s: the callback needs an http(s) URL", s))
				continue
			}
			callbacks = append(callbacks, arg)
		default:
			errs = append(errs, fmt.Errorf("-sink=%s: eventarbiter's sinks are callback:URL and stdout", s))
		}
	}
	if len(sinks) == 0 {
		errs = append(errs, errors.New("no -sink: eventarbiter needs one (callback:URL or stdout)"))
	}
	if len(errs) > 0 {
		return "", nil, errors.Join(errs...)
	}
	var b strings.Builder
	b.WriteString("# Translated from eventarbiter's flags by `eventide migrate eventarbiter`:\n")
	b.WriteString("# its alarms are eventide presets of the same name, sent with its callback body.\n")
	if len(env) > 0 {
		y, _ := yaml.Marshal(map[string]map[string]string{"extraFields": env})
		b.Write(y)
	}
	b.WriteString("route:\n  match:\n")
	for i := range callbacks {
		receivers = append(receivers, fmt.Sprintf("callback-%d-pods", i+1), fmt.Sprintf("callback-%d-nodes", i+1))
	}
	if stdout {
		receivers = append(receivers, "stdout")
	}
	for _, alarm := range eventarbiterAlarms {
		if filtered[alarm] {
			fmt.Fprintf(&b, "    # %s: left out by -event_filter\n", alarm)
			continue
		}
		for _, r := range receivers {
			if (strings.HasSuffix(r, "-pods") && !strings.HasPrefix(alarm, "pod_")) ||
				(strings.HasSuffix(r, "-nodes") && strings.HasPrefix(alarm, "pod_")) {
				continue // its pod and node alarms have different bodies
			}
			fmt.Fprintf(&b, "    - preset: %s\n      receiver: %s\n", alarm, r)
		}
	}
	b.WriteString("receivers:\n")
	for i, cb := range callbacks {
		for _, part := range []struct{ suffix, layout string }{{"pods", eventarbiterPodLayout}, {"nodes", eventarbiterNodeLayout}} {
			fmt.Fprintf(&b, "  - name: callback-%d-%s\n    webhook:\n      endpoint: %s\n      layout:\n%s", i+1, part.suffix, strconv.Quote(cb), part.layout)
		}
	}
	if stdout {
		b.WriteString("  - name: stdout\n    stdout: {}\n")
	}
	return b.String(), notes, nil
}

// multiFlag is a repeatable string flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }
