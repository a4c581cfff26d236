package cli

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/rs/zerolog"

	"github.com/eventide/eventide/pkg/exporter"
	"github.com/eventide/eventide/pkg/kube/event"
	"github.com/eventide/eventide/pkg/sinks"
)

// ReplayPreview is replay -dry-run's line: one per event and receiver.
type ReplayPreview struct {
	Event    string `json:"event"` // namespace/name
	Receiver string `json:"receiver"`
	Payload  any    `json:"payload"`
}

// Replay sends recorded events through the real receivers: routing,
// templates, queues, retries and the dead-letter file, but no cluster, no
// age rule and no checkpoints. With -dry-run it prints what would be sent.
//
//	eventide replay -conf config.yaml -events FILE [-dry-run] [-timeout 10m]
func Replay(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	var (
		conf, events string
		dryRun       bool
		timeout      time.Duration
	)
	fs := flag.NewFlagSet("eventide replay", flag.ContinueOnError)
	configFlags(fs, &conf)
	fs.StringVar(&events, "events", "", "recorded events: JSON lines (the file receiver's output), kubectl get events -o json, a dead-letter file or YAML (- : standard input)")
	fs.BoolVar(&dryRun, "dry-run", false, "print what each receiver would send (one JSON line per event and receiver) instead of sending")
	fs.DurationVar(&timeout, "timeout", 10*time.Minute, "how long receivers may take to deliver everything (retries included)")
	if err := parse(fs, args, &conf, stdout, stderr); err != nil {
		return exitFor(err)
	}
	if events == "" {
		fmt.Fprintln(stderr, "eventide replay: -events FILE is required (- for standard input)")
		return ExitUsage
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	o, err := loadOffline(ctx, conf, stdout, stderr, dryRun)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return ExitFailed
	}
	defer o.loaded.Close()
	if dryRun {
		return o.dryRun(events, stdin, stdout, stderr)
	}
	return o.replay(ctx, events, stdin, stderr, timeout)
}

func (o *offline) dryRun(events string, stdin io.Reader, stdout, stderr io.Writer) int {
	enc := json.NewEncoder(stdout)
	enc.SetEscapeHTML(false)
	err := readEventsFile(events, stdin, func(ev *event.EnhancedEvent) error {
		receivers, _ := o.route(ev)
		for _, r := range receivers {
			if err := enc.Encode(ReplayPreview{Event: ev.Namespace + "/" + ev.Name, Receiver: r, Payload: o.preview(r, ev)}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		fmt.Fprintln(stderr, err)
		return ExitFailed
	}
	return ExitOK
}

// replay runs the receivers as eventide does, with a spool in a temporary
// folder so that more events than a memory queue holds wait on disk
// instead of being dropped, and waits until they delivered or gave up.
func (o *offline) replay(ctx context.Context, events string, stdin io.Reader, stderr io.Writer, timeout time.Duration) int {
	cfg := &o.loaded.Config
	log := zerolog.New(stderr).With().Timestamp().Str("command", "replay").Logger()
	spool, err := os.MkdirTemp("", "eventide-replay-")
	if err != nil {
		fmt.Fprintln(stderr, err)
		return ExitFailed
	}
	defer os.RemoveAll(spool)
	opts := exporter.RuntimeOptions{SpoolDir: spool, SpoolMaxBytes: int64(cfg.Spool.MaxSizeMB) << 20}
	if cfg.DeadLetter.Path != "-" {
		if opts.DeadLetter, err = exporter.NewDeadLetter(cfg.DeadLetter.Path, cfg.DeadLetter.MaxSizeMB); err != nil {
			fmt.Fprintln(stderr, err)
			return ExitFailed
		}
		defer opts.DeadLetter.Close()
	}
	m := exporter.NewMetrics(prometheus.NewRegistry(), "")
	rt, err := exporter.NewRuntime(o.loaded.Receivers, m, log, opts)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return ExitFailed
	}
	rt.Start()
	n := 0
	readErr := readEventsFile(events, stdin, func(ev *event.EnhancedEvent) error {
		n++
		ev.Received = time.Now()
		receivers, _ := o.route(ev)
		for _, r := range receivers {
			rt.Enqueue(r, ev)
		}
		return ctx.Err()
	})
	drain, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	rt.Shutdown(drain)
	if readErr != nil {
		fmt.Fprintln(stderr, readErr)
	}
	return o.summary(stderr, m, n, readErr == nil)
}

// summary prints each receiver's outcome; the status is 0 only when every
// event read was delivered wherever it was routed.
func (o *offline) summary(w io.Writer, m *exporter.Metrics, n int, readOK bool) int {
	names := make([]string, 0, len(o.loaded.Receivers))
	for _, r := range o.loaded.Receivers {
		names = append(names, r.Name)
	}
	sort.Strings(names)
	status := ExitOK
	if !readOK {
		status = ExitFailed
	}
	fmt.Fprintf(w, "replayed %d events\n", n)
	for _, name := range names {
		sent := counterValue(m.Sent.WithLabelValues(name))
		failed := sumVec(m.Failed, name, sinks.FailureClasses)
		dropped := sumVec(m.Dropped, name, exporter.DropReasons)
		if sent == 0 && failed == 0 && dropped == 0 {
			continue
		}
		fmt.Fprintf(w, "  %s: %.0f sent, %.0f failed (dead-lettered), %.0f not delivered\n", name, sent, failed, dropped)
		if failed > 0 || dropped > 0 {
			status = ExitFailed
		}
	}
	return status
}

// sumVec is the total of receiver's series in a receiver × reason vector.
func sumVec(v *prometheus.CounterVec, receiver string, reasons []string) float64 {
	total := 0.0
	for _, r := range reasons {
		total += counterValue(v.WithLabelValues(receiver, r))
	}
	return total
}

func counterValue(c prometheus.Counter) float64 {
	var pb dto.Metric
	if err := c.Write(&pb); err != nil {
		return 0
	}
	return pb.GetCounter().GetValue()
}
