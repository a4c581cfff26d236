package sinks

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/eventide/eventide/pkg/kube/event"

	"github.com/rs/zerolog"
)

// Sink delivers events to one destination. Send is called by one goroutine
// at a time (the receiver's worker); it must honour ctx's deadline.
type Sink interface {
	// Send delivers one event. A failure is an *Error when the sink knows
	// whether it is worth retrying; any other error is treated as retryable.
	Send(ctx context.Context, ev *event.EnhancedEvent) error
	// Close releases what the sink holds (files, connections).
	Close() error
}

// BatchSink is a Sink that delivers several events in one request
// (Kinesis PutRecords, SQS SendMessageBatch, …). The runtime hands it up to
// MaxBatch queued events at once and retries only those that failed.
type BatchSink interface {
	Sink
	// MaxBatch is the most events one SendBatch takes.
	MaxBatch() int
	// SendBatch delivers evs and returns one error per event, nil for each
	// delivered one.
	SendBatch(ctx context.Context, evs []*event.EnhancedEvent) []error
}

// Error is a failed Send, classified for the retry loop and for metrics.
type Error struct {
	// Class is a short, bounded label for metrics: template, http_4xx,
	// http_5xx, rate_limited, network, io, unsupported.
	Class      string
	Retryable  bool
	RetryAfter time.Duration // a server's Retry-After, when it gave one
	Err        error
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// Permanent marks err as not worth retrying.
func Permanent(class string, err error) error {
	return &Error{Class: class, Err: err}
}

// Retryable marks err as worth retrying, after at least retryAfter when > 0.
func Retryable(class string, err error, retryAfter time.Duration) error {
	return &Error{Class: class, Retryable: true, RetryAfter: retryAfter, Err: err}
}

// Classify tells the retry loop what to do with a Send error.
func Classify(err error) (class string, retryable bool, retryAfter time.Duration) {
	var se *Error
	if errors.As(err, &se) {
		return se.Class, se.Retryable, se.RetryAfter
	}
	if IsTemplateError(err) {
		return "template", false, 0
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "timeout", true, 0
	}
	return "other", true, 0
}

// HTTPStatusError classifies an HTTP response status: 408, 429 and 5xx are
// retryable (with the server's Retry-After when given), other 4xx are not.
func HTTPStatusError(code int, retryAfterHeader string, body []byte) error {
	err := fmt.Errorf("HTTP %d: %s", code, truncate(string(body), 200))
	switch {
	case code == 429:
		return Retryable("rate_limited", err, ParseRetryAfter(retryAfterHeader, time.Now()))
	case code == 408 || code >= 500:
		return Retryable("http_5xx", err, ParseRetryAfter(retryAfterHeader, time.Now()))
	default:
		return Permanent("http_4xx", err)
	}
}

// ParseRetryAfter reads a Retry-After header: seconds or an HTTP date.
func ParseRetryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil && s > 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := time.Parse(time.RFC1123, v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// Deps is what sinks get from the process instead of globals.
type Deps struct {
	Log    zerolog.Logger
	Stdout io.Writer
}

// Config holds one receiver's sink: exactly one field is set.
type Config struct {
	Stdout   *StdoutConfig   `yaml:"stdout"`
	File     *FileConfig     `yaml:"file"`
	Pipe     *PipeConfig     `yaml:"pipe"`
	Webhook  *WebhookConfig  `yaml:"webhook"`
	Slack    *SlackConfig    `yaml:"slack"`
	Opsgenie *OpsgenieConfig `yaml:"opsgenie"`
	Kinesis  *KinesisConfig  `yaml:"kinesis"`
	// AWS family besides Kinesis
	Firehose    *FirehoseConfig    `yaml:"firehose"`
	SNS         *SNSConfig         `yaml:"sns"`
	SQS         *SQSConfig         `yaml:"sqs"`
	EventBridge *EventBridgeConfig `yaml:"eventbridge"`
	OpsCenter   *OpsCenterConfig   `yaml:"opscenter"`
}

// builder is what every sink config implements.
type builder interface {
	build(path string, deps Deps) (Sink, error)
}

// Type names the configured sink type, or "" when none or several are set.
func (c *Config) Type() string {
	types := c.types()
	if len(types) != 1 {
		return ""
	}
	return types[0].name
}

type namedBuilder struct {
	name string
	b    builder
}

func (c *Config) types() []namedBuilder {
	var out []namedBuilder
	add := func(name string, set bool, b builder) {
		if set {
			out = append(out, namedBuilder{name, b})
		}
	}
	add("stdout", c.Stdout != nil, c.Stdout)
	add("file", c.File != nil, c.File)
	add("pipe", c.Pipe != nil, c.Pipe)
	add("webhook", c.Webhook != nil, c.Webhook)
	add("slack", c.Slack != nil, c.Slack)
	add("opsgenie", c.Opsgenie != nil, c.Opsgenie)
	add("kinesis", c.Kinesis != nil, c.Kinesis)
	add("firehose", c.Firehose != nil, c.Firehose)
	add("sns", c.SNS != nil, c.SNS)
	add("sqs", c.SQS != nil, c.SQS)
	add("eventbridge", c.EventBridge != nil, c.EventBridge)
	add("opscenter", c.OpsCenter != nil, c.OpsCenter)
	return out
}

// SupportedTypes lists the sink types Config knows.
var SupportedTypes = []string{"stdout", "file", "pipe", "webhook", "slack", "opsgenie", "kinesis",
	"firehose", "sns", "sqs", "eventbridge", "opscenter"}

// Build checks that exactly one sink type is set, parses its templates and
// builds the sink. It does no network I/O and opens no files: a sink that
// needs either does it on first Send, so `eventide validate` can build every
// receiver offline. Errors name their path under path.
func (c *Config) Build(path string, deps Deps) (Sink, error) {
	types := c.types()
	switch len(types) {
	case 0:
		return nil, fmt.Errorf("%s: no receiver type set (one of %v)", path, SupportedTypes)
	case 1:
	default:
		names := make([]string, len(types))
		for i, t := range types {
			names[i] = t.name
		}
		return nil, fmt.Errorf("%s: %d receiver types set (%v): a receiver has exactly one; split it into several receivers", path, len(types), names)
	}
	if deps.Stdout == nil {
		deps.Stdout = os.Stdout
	}
	return types[0].b.build(path+"."+types[0].name, deps)
}
