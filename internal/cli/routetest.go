package cli

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/eventide/eventide/pkg/kube/event"
)

// RouteTestResult is route-test's line for one event.
type RouteTestResult struct {
	Event     string         `json:"event"` // namespace/name
	Reason    string         `json:"reason"`
	Type      string         `json:"type"`
	Class     string         `json:"class"`                 // what it means (event classes)
	Detail    string         `json:"classDetail,omitempty"` // the class's detail, where it has one
	Receivers []string       `json:"receivers"`
	Routes    []string       `json:"routes"`             // id, else path, of each route that sent it somewhere
	Rendered  map[string]any `json:"rendered,omitempty"` // with -render: receiver → what it would send
	// Groups are the group key at each grouping receiver it goes to.
	Groups map[string]string `json:"groups,omitempty"`
	// Muted are the silenceable receivers it would not be sent to, and
	// why: silenced or inhibited, at the event's own time.
	Muted map[string]string `json:"muted,omitempty"`
}

// RouteTest prints, for each recorded event, the receivers and routes it
// goes to, one JSON object per line in input order; offline.
//
//	eventide route-test -conf config.yaml [-events FILE] [-render] [-expect a,b]
func RouteTest(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	var (
		conf, events, expect string
		render               bool
	)
	fs := flag.NewFlagSet("eventide route-test", flag.ContinueOnError)
	configFlags(fs, &conf)
	fs.StringVar(&events, "events", "-", "recorded events: JSON lines, kubectl get events -o json, a dead-letter file or YAML (- : standard input)")
	fs.BoolVar(&render, "render", false, "add what each receiver would send, ${VAR} values redacted")
	fs.StringVar(&expect, "expect", "", "comma-separated receivers every event must go to, exactly (-expect= : none); exit 1 otherwise")
	if err := parse(fs, args, &conf, stdout, stderr); err != nil {
		return exitFor(err)
	}
	want, checking := expectedSet(fs, expect)
	o, err := loadOffline(ctx, conf, io.Discard, stderr, true)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return ExitFailed
	}
	defer o.loaded.Close()
	enc := json.NewEncoder(stdout)
	enc.SetEscapeHTML(false)
	n, mismatches := 0, 0
	err = readEventsFile(events, stdin, func(ev *event.EnhancedEvent, _ string) error {
		n++
		receivers, routes := o.route(ev)
		o.loaded.Mute.Observe(ev)
		res := RouteTestResult{Event: ev.Namespace + "/" + ev.Name, Reason: ev.Reason, Type: ev.Type,
			Class: ev.Class, Detail: ev.ClassDetail, Receivers: nonNil(receivers), Routes: nonNil(routes)}
		for _, r := range receivers {
			// Namespace annotations are not known offline.
			if o.loaded.Mute.Applies(r) {
				if why := o.loaded.Mute.Why(ev, ev.GetLastTime(), nil); why != "" {
					if res.Muted == nil {
						res.Muted = map[string]string{}
					}
					res.Muted[r] = why
				}
			}
			if rc := o.receiver(r); rc != nil && rc.Group != nil {
				if res.Groups == nil {
					res.Groups = map[string]string{}
				}
				res.Groups[r] = rc.Group.KeyFunc()(ev)
			}
		}
		if render {
			res.Rendered = map[string]any{}
			for _, r := range receivers {
				res.Rendered[r] = o.preview(r, ev)
			}
		}
		if checking && !sameSet(receivers, want) {
			mismatches++
			fmt.Fprintf(stderr, "event %d (%s): receivers [%s], expected [%s]\n", n, res.Event, strings.Join(receivers, ","), strings.Join(want, ","))
		}
		return enc.Encode(res)
	})
	if err != nil {
		fmt.Fprintln(stderr, err)
		return ExitFailed
	}
	if mismatches > 0 {
		fmt.Fprintf(stderr, "%d of %d events did not go to exactly [%s]\n", mismatches, n, strings.Join(want, ","))
		return ExitFailed
	}
	return ExitOK
}

// expectedSet is -expect's receivers, and whether it was given at all.
func expectedSet(fs *flag.FlagSet, expect string) ([]string, bool) {
	if !flagSet(fs, "expect") {
		return nil, false
	}
	var want []string
	for _, r := range strings.Split(expect, ",") {
		if r = strings.TrimSpace(r); r != "" {
			want = append(want, r)
		}
	}
	return want, true
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(slices.Compact(a), slices.Compact(b))
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
