package runtime

import (
	"fmt"
	"time"

	"github.com/eventide/eventide/pkg/exporter/grouping"
	"github.com/eventide/eventide/pkg/sinks"
)

// Receiver is a built receiver: its name, delivery settings and sink.
type Receiver struct {
	Name     string
	Type     string // webhook, slack, …: eventide_receiver_info's type label
	Delivery Delivery
	Sink     sinks.Sink
	// Group is the checked grouping settings; nil sends per event.
	Group *grouping.Config
	pace  *pacer // set by the runtime
	// Fingerprint identifies its configuration: equal means unchanged.
	Fingerprint string
}

// Delivery (a receiver's `delivery` key) tunes a receiver's queue and retries.
type Delivery struct {
	QueueSize      int           `yaml:"queueSize"`      // default 1000
	Timeout        time.Duration `yaml:"timeout"`        // per send; default 10s
	MaxRetries     int           `yaml:"maxRetries"`     // default: retry until delivered; -1 never retries
	InitialBackoff time.Duration `yaml:"initialBackoff"` // default 500ms
	MaxBackoff     time.Duration `yaml:"maxBackoff"`     // default 30s
	// RateLimit paces the sends ("1/s" for a Slack channel, "20/min" for
	// a chat robot); default none.
	RateLimit RateLimit `yaml:"rateLimit"`
	// MaxRetryAfter caps a server's Retry-After; default the larger of
	// maxBackoff and 5m.
	MaxRetryAfter time.Duration `yaml:"maxRetryAfter"`
}

// NeverRetry is Delivery.MaxRetries (maxRetries: -1) when a receiver
// never retries; 0, the default, retries a retryable failure until it
// succeeds.
const NeverRetry = -1

// mayRetry says whether a retryable failure of attempt (1 the first) is
// tried again.
func (d Delivery) mayRetry(attempt int) bool {
	switch d.MaxRetries {
	case NeverRetry:
		return false
	case 0:
		return true
	}
	return attempt <= d.MaxRetries
}

// Defaults of a receiver's delivery settings.
const (
	DefaultQueueSize      = 1000
	DefaultSendTimeout    = 10 * time.Second
	DefaultInitialBackoff = 500 * time.Millisecond
	DefaultMaxBackoff     = 30 * time.Second
	DefaultMaxRetryAfter  = 5 * time.Minute
	// MaxQueueSize bounds delivery.queueSize: the ring is allocated up
	// front (8 bytes a slot).
	MaxQueueSize = 1_000_000
)

// WithDefaults fills in d's unset settings and checks it; path names it
// in errors (receivers[2].delivery).
func (d Delivery) WithDefaults(path string) (Delivery, []error) {
	var errs []error
	if d.QueueSize < 0 || d.Timeout < 0 || d.InitialBackoff < 0 || d.MaxBackoff < 0 || d.MaxRetryAfter < 0 || d.MaxRetries < -1 {
		errs = append(errs, fmt.Errorf("%s: values must not be negative (maxRetries: -1 turns retries off)", path))
	}
	if d.QueueSize == 0 {
		d.QueueSize = DefaultQueueSize
	}
	if d.Timeout == 0 {
		d.Timeout = DefaultSendTimeout
	}
	if d.InitialBackoff == 0 {
		d.InitialBackoff = DefaultInitialBackoff
	}
	if d.MaxBackoff == 0 {
		d.MaxBackoff = DefaultMaxBackoff
	}
	if d.MaxRetryAfter == 0 {
		d.MaxRetryAfter = max(d.MaxBackoff, DefaultMaxRetryAfter)
	}
	if d.QueueSize > MaxQueueSize {
		errs = append(errs, fmt.Errorf("%s.queueSize: %d is over the limit of %d events held in memory per receiver (what does not fit waits in the disk spool; raise spool.maxSizeMB instead)", path, d.QueueSize, MaxQueueSize))
	}
	if d.MaxBackoff < d.InitialBackoff {
		errs = append(errs, fmt.Errorf("%s.maxBackoff: shorter than initialBackoff", path))
	}
	return d, errs
}
