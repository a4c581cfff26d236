package sinks

import (
	"context"
	"errors"
	"os"
	"time"
)

// Class is what kind of failure a send had: the reason label of
// eventide_receiver_failed_total and _retries_total, a short and bounded
// set. Sinks use the constants; the retry loop reads them through
// Classify.
type Class string

// The failure classes.
const (
	ClassTemplate    Class = "template"     // a template failed on this event: never retried
	ClassHTTP4xx     Class = "http_4xx"     // the server refused the request
	ClassHTTP5xx     Class = "http_5xx"     // the server failed
	ClassRateLimited Class = "rate_limited" // 429 or the service's own throttling
	ClassNetwork     Class = "network"      // no answer: refused, reset, DNS
	ClassIO          Class = "io"           // a local file or pipe
	ClassTimeout     Class = "timeout"      // no answer within the send timeout, or the send was cut short
	ClassRedirect    Class = "redirect"     // a 3xx: eventide follows none
	ClassRejected    Class = "rejected"     // answered, but the event was not taken (an item error)
	ClassTooLarge    Class = "too_large"    // over the service's size limit
	ClassNoChannel   Class = "no_channel"   // a chat message with no channel to go to
	ClassNoReader    Class = "no_reader"    // a pipe nobody reads
	ClassUnsupported Class = "unsupported"  // the service cannot do what was asked
	ClassOther       Class = "other"
)

// FailureClasses are every Class, so the failure counters can start at
// zero for each receiver: an alert on a rate then fires on the first
// failure, not the second.
var FailureClasses = []Class{ClassTemplate, ClassHTTP4xx, ClassHTTP5xx, ClassRateLimited, ClassNetwork, ClassIO, ClassTimeout,
	ClassRedirect, ClassRejected, ClassTooLarge, ClassNoChannel, ClassNoReader, ClassUnsupported, ClassOther}

// Permanent marks err as not worth retrying.
func Permanent(class Class, err error) error {
	return &Error{Class: class, Err: err}
}

// Retryable marks err as worth retrying, after at least retryAfter when > 0.
func Retryable(class Class, err error, retryAfter time.Duration) error {
	return &Error{Class: class, Retryable: true, RetryAfter: retryAfter, Err: err}
}

// Classify tells the retry loop what to do with a Send error.
func Classify(err error) (class Class, retryable bool, retryAfter time.Duration) {
	var se *Error
	if errors.As(err, &se) {
		return se.Class, se.Retryable, se.RetryAfter
	}
	if IsTemplateError(err) {
		return ClassTemplate, false, 0
	}
	if cut, ok := CutShort(err); ok {
		return Classify(cut)
	}
	return ClassOther, true, 0
}

// Failure is what may be shown of a send error without its text (which
// can carry a response body or a credential): its class, the HTTP status
// that answered and the receiver's scheme and host, when known.
type Failure struct {
	Class  Class
	Status int
	Host   string
}

// Describe is err's Failure.
func Describe(err error) Failure {
	c, _, _ := Classify(err)
	f := Failure{Class: c}
	var se *Error
	if errors.As(err, &se) {
		f.Status, f.Host = se.Status, se.Host
	}
	return f
}

// AtHost records endpoint's scheme and host on err, a classified send
// error, for Describe; other errors are returned as they are.
func AtHost(err error, endpoint string) error {
	var se *Error
	if errors.As(err, &se) && se.Host == "" {
		se.Host = RedactURL(endpoint)
	}
	return err
}

// CutShort classifies a send that ended with its context (the send
// timeout, or a shutdown or reload cancelling it): retryable, class
// timeout. ok is false for any other error. Every sink classifies these
// through here, so they are counted alike.
func CutShort(err error) (classified error, ok bool) {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) || errors.Is(err, os.ErrDeadlineExceeded) {
		return Retryable(ClassTimeout, err, 0), true
	}
	return nil, false
}
