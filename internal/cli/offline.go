package cli

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/rs/zerolog"

	"github.com/eventide/eventide/internal/redact"
	"github.com/eventide/eventide/pkg/exporter"
	"github.com/eventide/eventide/pkg/exporter/config"
	"github.com/eventide/eventide/pkg/exporter/runtime"
	"github.com/eventide/eventide/pkg/kube/event"
	"github.com/eventide/eventide/pkg/sinks"
)

// offline is a configuration loaded for route-test and replay: no cluster.
type offline struct {
	loaded *config.Loaded
	// secrets are the values ${VAR} put into the file: a preview shows
	// none of them.
	secrets redact.Secrets
}

// loadOffline loads conf; stdout is what the stdout receiver writes to.
// With unsetIsWarning an unset ${VAR} is a warning (route-test, dry runs
// away from the pod's environment), else an error (a real replay sends).
func loadOffline(ctx context.Context, conf string, stdout, stderr io.Writer, unsetIsWarning bool) (*offline, error) {
	o := &offline{}
	lookup := o.secrets.Lookup(os.LookupEnv)
	warn := zerolog.New(zerolog.ConsoleWriter{Out: stderr, NoColor: true, PartsExclude: []string{zerolog.TimestampFieldName},
		FormatLevel: func(any) string { return conf + ": warning:" }}).Level(zerolog.WarnLevel)
	loaded, err := config.LoadFile(conf, config.LoadOptions{
		Deps:              sinks.Deps{Ctx: ctx, Log: warn, Stdout: stdout},
		LookupEnv:         lookup,
		UnsetEnvIsWarning: unsetIsWarning,
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", conf, err)
	}
	for _, w := range loaded.Warnings {
		fmt.Fprintf(stderr, "%s: warning: %s\n", conf, w)
	}
	o.loaded = loaded
	return o, nil
}

// readEventsFile reads path ("-" or "": standard input) with
// exporter.ReadRecords. Of a file it reads what it held when opened: a
// replay of the live dead-letter file must not read the dead letters it
// appends itself.
func readEventsFile(path string, stdin io.Reader, fn func(ev *event.EnhancedEvent, receiver string) error) error {
	r := stdin
	if path != "" && path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		r = f
		if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
			r = io.LimitReader(f, fi.Size())
		}
	}
	if err := exporter.ReadRecords(r, fn); err != nil {
		return fmt.Errorf("%s: %w", displayName(path), err)
	}
	return nil
}

func displayName(path string) string {
	if path == "" || path == "-" {
		return "standard input"
	}
	return path
}

// route is what the route tree does with ev: the receivers, in the order
// the tree names them, and the labels (id or path) of the routes that sent
// it somewhere. ev gets the config's clusterName and extraFields, as in
// the pipeline.
func (o *offline) route(ev *event.EnhancedEvent) (receivers, routes []string) {
	ev.ClusterName, ev.Extra = o.loaded.Config.ClusterName, o.loaded.Config.ExtraFields
	labels := o.loaded.Tree.Routes()
	receivers = o.loaded.Tree.Match(ev, nil, func(id int) { routes = append(routes, labels[id]) })
	return receivers, routes
}

// receiver is the named receiver, as loaded; nil when there is none.
func (o *offline) receiver(name string) *runtime.Receiver {
	for i := range o.loaded.Receivers {
		if o.loaded.Receivers[i].Name == name {
			return &o.loaded.Receivers[i]
		}
	}
	return nil
}

// preview is what receiver would send for ev (for a grouping receiver,
// as the first notification of its group), with ${VAR} values redacted:
// a JSON-able value, or {"error": …}.
func (o *offline) preview(receiver string, ev *event.EnhancedEvent) any {
	r := o.receiver(receiver)
	var p sinks.Previewer
	if r != nil {
		p, _ = r.Sink.(sinks.Previewer)
	}
	if p == nil {
		return map[string]string{"error": "this receiver cannot show what it would send"}
	}
	if r.Group != nil {
		ev = r.Group.First(ev)
	}
	v, err := p.Preview(ev)
	if err != nil {
		return map[string]string{"error": o.secrets.String(err.Error())}
	}
	return o.secrets.JSON(v)
}
