// Package sinks is the base layer every receiver builds on: the Sink
// interface and its error classes, templates and layouts, shared HTTP/TLS
// and rendering helpers, and Secret. Each integration is a package of its
// own under pkg/sinks; the registry in pkg/exporter names them.
package sinks

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/eventide/eventide/pkg/kube/event"
	"github.com/eventide/eventide/pkg/sinks/prometheus/series"

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

// Lingerer is a BatchSink that prefers full batches (a bulk request, a
// Kafka produce, an object per batch): after the first event of a batch
// the runtime waits up to Linger for more, and sends as soon as MaxBatch
// events are there or the receiver drains.
type Lingerer interface {
	BatchSink
	Linger() time.Duration
}

// Filler is a Lingerer whose batches end on size too (the S3 archive's
// maxBytes): the runtime asks Full after each event it adds while
// lingering, and sends the batch as soon as it says so.
type Filler interface {
	Lingerer
	Full(batch []*event.EnhancedEvent) bool
}

// Updater is a sink whose notifications can be edited after they are
// sent (a Slack message): a grouping receiver posts a group's first
// notification and edits it as the group grows.
type Updater interface {
	Sink
	// Post sends ev as a new notification and returns a reference to it.
	Post(ctx context.Context, ev *event.EnhancedEvent) (ref string, err error)
	// Update replaces notification ref with ev. A reference the service
	// no longer knows is a permanent failure: the caller posts anew.
	Update(ctx context.Context, ref string, ev *event.EnhancedEvent) error
}

// Error is a failed Send, classified for the retry loop and for metrics.
type Error struct {
	Class Class // see failure.go

	Retryable  bool
	RetryAfter time.Duration // a server's Retry-After, when it gave one
	Err        error
	// Status is the HTTP status that answered, when one did; Host the
	// receiver's scheme and host, when the sink knows it. The status
	// page shows them instead of the error string, which can carry a
	// response body.
	Status int
	Host   string
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// HTTPStatusError classifies an HTTP response status: 408, 429 and 5xx are
// retryable (with the server's Retry-After when given), other 4xx are not.
func HTTPStatusError(code int, retryAfterHeader string, body []byte) error {
	err := fmt.Errorf("HTTP %d: %s", code, Truncate(string(body), 200))
	var se *Error
	switch {
	case code >= 300 && code < 400: // a client that follows none (ES, BigQuery) gets here
		se = &Error{Class: ClassRedirect, Err: fmt.Errorf("HTTP %d redirect: eventide does not follow redirects; set the final URL", code)}
	case code == 429:
		se = &Error{Class: ClassRateLimited, Retryable: true, RetryAfter: ParseRetryAfter(retryAfterHeader, time.Now()), Err: err}
	case code == 408 || code >= 500:
		se = &Error{Class: ClassHTTP5xx, Retryable: true, RetryAfter: ParseRetryAfter(retryAfterHeader, time.Now()), Err: err}
	default:
		se = &Error{Class: ClassHTTP4xx, Err: err}
	}
	se.Status = code
	return se
}

// ParseRetryAfter reads a Retry-After header: seconds or an HTTP date.
//
// A value beyond RetryAfterCeiling (a year, a number too large for an
// int64) is RetryAfterCeiling: the receiver's delivery.maxRetryAfter then
// caps it.
func ParseRetryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if strings.Trim(v, "0123456789") == "" {
		s, err := strconv.ParseInt(v, 10, 64)
		if err != nil || s > int64(RetryAfterCeiling/time.Second) {
			return RetryAfterCeiling
		}
		return time.Duration(s) * time.Second
	}
	if t, err := time.Parse(time.RFC1123, v); err == nil && t.After(now) {
		return min(t.Sub(now), RetryAfterCeiling)
	}
	return 0
}

// RetryAfterCeiling bounds a parsed Retry-After before the receiver's own
// cap applies.
const RetryAfterCeiling = 24 * time.Hour

// Deps is what sinks get from the process instead of globals.
type Deps struct {
	// Ctx is the caller's context, for what building reads (the AWS
	// receivers' shared configuration files).
	Ctx    context.Context
	Log    zerolog.Logger
	Stdout io.Writer
	// Receiver is the receiver's name, for what it derives keys from
	// (IdempotencyKey).
	Receiver string
	// MaxPayloadBytes bounds one rendered payload (NewPayload); 0 is
	// MaxRenderBytes.
	MaxPayloadBytes int
	// EventMetrics is where prometheus receivers keep their series: the
	// process's, served on /metrics and kept across reloads. Nil (validate,
	// route-test): each receiver keeps a private one.
	EventMetrics *series.Hub
}

// Builder is one receiver type's settings, decoded from the route file.
// Build checks them, parses their templates and builds the sink. It does no
// network I/O and opens no files: a sink that needs either does it on first
// Send, so `eventide validate` can build every receiver offline. Errors name
// their path under path (receivers[3].webhook).
type Builder interface {
	Build(path string, deps Deps) (Sink, error)
}
