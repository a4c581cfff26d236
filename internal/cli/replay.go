package cli

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/rs/zerolog"

	"github.com/eventide/eventide/pkg/exporter/runtime"
	"github.com/eventide/eventide/pkg/kube/event"
	"github.com/eventide/eventide/pkg/sinks"
)

// ReplayPreview is replay -dry-run's line: one per event and receiver.
type ReplayPreview struct {
	Event    string `json:"event"` // namespace/name
	Receiver string `json:"receiver"`
	Payload  any    `json:"payload"`
}

// replayFlags are replay's own settings.
type replayFlags struct {
	events, deadLetter string
	dryRun, all        bool
	timeout            time.Duration
}

// Replay sends recorded events through the real receivers: routing,
// templates, queues, retries and a dead-letter file of its own, but no
// cluster, no age rule and no checkpoints. A dead-letter record goes back
// to the receiver it names only, unless -all-receivers. With -dry-run it
// prints what would be sent.
//
//	eventide replay -conf config.yaml -events FILE [-dry-run] [-all-receivers] [-dead-letter FILE] [-timeout 10m]
func Replay(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	var (
		conf string
		f    replayFlags
	)
	fs := flag.NewFlagSet("eventide replay", flag.ContinueOnError)
	configFlags(fs, &conf)
	fs.StringVar(&f.events, "events", "", "recorded events: JSON lines (the file receiver's output), kubectl get events -o json, a dead-letter file or YAML (- : standard input); a file is read as it was when the replay started")
	fs.BoolVar(&f.dryRun, "dry-run", false, "print what each receiver would send (one JSON line per event and receiver) instead of sending")
	fs.BoolVar(&f.all, "all-receivers", false, "route dead-letter records again, to every receiver that matches, instead of only the receiver each names")
	fs.StringVar(&f.deadLetter, "dead-letter", "", "where this replay's own dead letters go (default: a new file beside deadLetter.path, named in the summary)")
	fs.DurationVar(&f.timeout, "timeout", 10*time.Minute, "how long receivers may take to deliver everything (retries included)")
	if err := parse(fs, args, &conf, stdout, stderr); err != nil {
		return exitFor(err)
	}
	if f.events == "" {
		fmt.Fprintln(stderr, "eventide replay: -events FILE is required (- for standard input)")
		return ExitUsage
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	o, err := loadOffline(ctx, conf, stdout, stderr, f.dryRun)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return ExitFailed
	}
	defer o.loaded.Close()
	if f.dryRun {
		return o.dryRun(f, stdin, stdout, stderr)
	}
	return o.replay(ctx, f, stdin, stderr)
}

// replayTo is where a replayed event goes: the receivers its routes pick,
// or, for a dead-letter record (receiver set) and without -all-receivers,
// the receiver the record names, if the config still has it.
func (o *offline) replayTo(ev *event.EnhancedEvent, receiver string, all bool) []string {
	if receiver == "" || all {
		receivers, _ := o.route(ev)
		return receivers
	}
	for _, r := range o.loaded.Receivers {
		if r.Name == receiver {
			return []string{receiver}
		}
	}
	return nil
}

func (o *offline) dryRun(f replayFlags, stdin io.Reader, stdout, stderr io.Writer) int {
	enc := json.NewEncoder(stdout)
	enc.SetEscapeHTML(false)
	err := readEventsFile(f.events, stdin, func(ev *event.EnhancedEvent, receiver string) error {
		for _, r := range o.replayTo(ev, receiver, f.all) {
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
func (o *offline) replay(ctx context.Context, f replayFlags, stdin io.Reader, stderr io.Writer) int {
	cfg := &o.loaded.Config
	log := zerolog.New(stderr).With().Timestamp().Str("command", "replay").Logger()
	spool, err := os.MkdirTemp("", "eventide-replay-")
	if err != nil {
		fmt.Fprintln(stderr, err)
		return ExitFailed
	}
	defer os.RemoveAll(spool)
	opts := runtime.Options{SpoolDir: spool, SpoolMaxBytes: int64(cfg.Spool.MaxSizeMB) << 20}
	deadLetter := f.deadLetter
	if deadLetter == "" && cfg.DeadLetter.Path != "-" {
		deadLetter = replayDeadLetterPath(cfg.DeadLetter.Path, time.Now())
	}
	if deadLetter != "" {
		if opts.DeadLetter, err = runtime.NewDeadLetter(deadLetter, cfg.DeadLetter.MaxSizeMB); err != nil {
			fmt.Fprintln(stderr, err)
			return ExitFailed
		}
		defer opts.DeadLetter.Close()
	}
	m := runtime.NewMetrics(prometheus.NewRegistry(), "eventide")
	rt, err := runtime.NewRuntime(o.loaded.Receivers, m, log, opts)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return ExitFailed
	}
	rt.Start()
	n := 0
	unknown := 0
	run := time.Now().UTC().Format(time.RFC3339Nano) // a replay is a new delivery: new idempotency keys
	readErr := readEventsFile(f.events, stdin, func(ev *event.EnhancedEvent, receiver string) error {
		n++
		ev.Received = time.Now()
		ev.Replay = run
		to := o.replayTo(ev, receiver, f.all)
		if receiver != "" && !f.all && len(to) == 0 {
			unknown++
		}
		for _, r := range to {
			rt.Enqueue(r, ev)
		}
		return ctx.Err()
	})
	drain, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	rt.Shutdown(drain)
	if readErr != nil {
		fmt.Fprintln(stderr, readErr)
	}
	status := o.summary(stderr, m, n, readErr == nil)
	if unknown > 0 {
		fmt.Fprintf(stderr, "  %d dead-letter records name a receiver this config does not have: not sent (-all-receivers routes them)\n", unknown)
		status = ExitFailed
	}
	if deadLetter != "" {
		fmt.Fprintf(stderr, "dead letters of this replay: %s\n", deadLetter)
	}
	return status
}

// replayDeadLetterPath is a new file beside the configured dead-letter
// file, so a replay never appends to the file it may be reading:
// dead-letter.jsonl → dead-letter.replay-20261202T101500Z.jsonl.
func replayDeadLetterPath(configured string, now time.Time) string {
	ext := filepath.Ext(configured)
	return strings.TrimSuffix(configured, ext) + ".replay-" + now.UTC().Format("20060102T150405Z") + ext
}

// summary prints each receiver's outcome; the status is 0 only when every
// event read was delivered wherever it was routed.
func (o *offline) summary(w io.Writer, m *runtime.Metrics, n int, readOK bool) int {
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
		dropped := sumVec(m.Dropped, name, runtime.DropReasons)
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
func sumVec[R ~string](v *prometheus.CounterVec, receiver string, reasons []R) float64 {
	total := 0.0
	for _, r := range reasons {
		total += counterValue(v.WithLabelValues(receiver, string(r)))
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
