// Package awsbase is what the AWS receivers share: SDK configuration
// (region, endpoint, roleARN), error classification, batch splitting and
// the FIFO id templates.
package awsbase

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/eventide/eventide/pkg/kube/event"
	"github.com/eventide/eventide/pkg/sinks"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
)

// Config is what every AWS receiver shares: credentials come from the
// default chain (environment, shared files, web identity / IRSA, instance
// role), optionally assuming roleARN.
type Config struct {
	Region   string `yaml:"region"`
	Endpoint string `yaml:"endpoint"` // for compatible services and tests
	RoleARN  string `yaml:"roleARN"`
}

// Load builds the SDK configuration. It reads the environment and shared
// files but calls nothing: credentials are fetched on first use. The SDK's
// own retries are off, so the receiver runtime retries and counts each
// attempt once.
func (c Config) Load(ctx context.Context, path string) (aws.Config, error) {
	opts := []func(*config.LoadOptions) error{
		config.WithRetryer(func() aws.Retryer { return aws.NopRetryer{} }),
	}
	if c.Region != "" {
		opts = append(opts, config.WithRegion(c.Region))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("%s: aws configuration: %w", path, err)
	}
	var errs []error
	if cfg.Region == "" {
		errs = append(errs, fmt.Errorf("%s.region: required (or set AWS_REGION)", path))
	}
	if _, err := sinks.CheckEndpoint(path+".endpoint", c.Endpoint, false, sinks.HTTPOrHTTPS); err != nil {
		errs = append(errs, err) // requests are signed, not secret: plain http to a local endpoint is fine
	}
	if c.RoleARN != "" {
		cfg.Credentials = aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(sts.NewFromConfig(cfg), c.RoleARN,
			func(o *stscreds.AssumeRoleOptions) { o.RoleSessionName = "eventide-" + hostname() }))
	}
	return cfg, errors.Join(errs...)
}

// BaseEndpoint is the BaseEndpoint override for a service client, or nil.
func (c Config) BaseEndpoint() *string {
	if c.Endpoint == "" {
		return nil
	}
	return aws.String(c.Endpoint)
}

func hostname() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		return "unknown"
	}
	return h
}

// throttlingCodes are AWS error codes that mean "slow down".
var throttlingCodes = map[string]bool{
	"ThrottlingException": true, "Throttling": true, "ThrottledException": true,
	"ProvisionedThroughputExceededException": true, "RequestLimitExceeded": true,
	"TooManyRequestsException": true, "LimitExceededException": true, "SlowDown": true,
	"RequestThrottled": true, "ServiceUnavailable": true, "InternalFailure": true,
	"InternalError": true, "InternalServerError": true, "ServiceUnavailableException": true,
}

// Classify turns an SDK error into an *sinks.Error: throttling, 5xx and
// network failures are retryable; other API errors (missing stream, access
// denied, validation) are not.
func Classify(err error) error {
	if err == nil {
		return nil
	}
	var ae smithy.APIError
	if errors.As(err, &ae) && throttlingCodes[ae.ErrorCode()] {
		return sinks.Retryable(sinks.ClassRateLimited, err, 0)
	}
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		switch code := re.HTTPStatusCode(); {
		case code == 429:
			return sinks.Retryable(sinks.ClassRateLimited, err, 0)
		case code >= 500 || code == 408:
			return sinks.Retryable(sinks.ClassHTTP5xx, err, 0)
		default:
			return sinks.Permanent(sinks.ClassHTTP4xx, err)
		}
	}
	if cut, ok := sinks.CutShort(err); ok {
		return cut
	}
	if ae != nil {
		return sinks.Permanent(sinks.ClassHTTP4xx, err)
	}
	return sinks.Retryable(sinks.ClassNetwork, err, 0)
}

// EntryErrors maps a batch answer's per-entry error codes (nil: accepted)
// to one error per entry sent; n is how many were sent, failed the count
// of failures the answer states. An answer that does not add up (not one
// result per entry, or another number of failures than it lists) proves
// no entry was stored: every entry it does not fail outright is a
// retryable failure, never a delivery.
func EntryErrors[T any](n, failed int, answers []T, codeOf func(T) (code, msg *string)) []error {
	errs := make([]error, n)
	listed := 0
	for j, a := range answers {
		if code, msg := codeOf(a); j < n && code != nil {
			errs[j] = recordError(aws.ToString(code), aws.ToString(msg))
			listed++
		}
	}
	if len(answers) == n && listed == failed {
		return errs
	}
	unmatched := sinks.Retryable(sinks.ClassOther, fmt.Errorf("the answer does not add up: %d results and %d failures listed for %d entries sent, %d failures stated",
		len(answers), listed, n, failed), 0)
	for j := range errs {
		if errs[j] == nil {
			errs[j] = unmatched
		}
	}
	return errs
}

// recordError is the error of one record in a batch answer: retryable for
// throttling and internal failures, as the AWS APIs document.
func recordError(code, msg string) error {
	err := fmt.Errorf("%s: %s", code, msg)
	if throttlingCodes[code] {
		return sinks.Retryable(sinks.ClassRateLimited, err, 0)
	}
	return sinks.Permanent(sinks.ClassHTTP4xx, err)
}

// BatchEntries renders evs with render (an entry and its size in the
// request), groups the entries into requests within the count and size
// limits, sends each with put (an error per entry, or one for the whole
// request) and maps every outcome back to its event.
func BatchEntries[E any](evs []*event.EnhancedEvent, maxEntry, maxRequest, maxCount int,
	render func(*event.EnhancedEvent) (E, int, error), put func([]E) ([]error, error)) []error {
	errs := make([]error, len(evs))
	var (
		entries []E
		index   []int
		size    int
	)
	flush := func() {
		if len(entries) == 0 {
			return
		}
		perEntry, err := put(entries)
		for j, i := range index {
			switch {
			case err != nil:
				errs[i] = err
			case j < len(perEntry):
				errs[i] = perEntry[j]
			}
		}
		entries, index, size = nil, nil, 0
	}
	for i, ev := range evs {
		e, n, err := render(ev)
		if err != nil {
			errs[i] = err
			continue
		}
		if n > maxEntry {
			errs[i] = sinks.Permanent(sinks.ClassTooLarge, fmt.Errorf("entry of %d bytes is over the %d-byte limit", n, maxEntry))
			continue
		}
		if size+n > maxRequest || len(entries) == maxCount {
			flush()
		}
		entries = append(entries, e)
		index = append(index, i)
		size += n
	}
	flush()
	return errs
}

// MaxFIFOIDLen is the longest message group or deduplication id SQS and SNS take.
const MaxFIFOIDLen = 128

// Defaults of the FIFO id templates: each namespace's events stay in order,
// and each occurrence is unique.
const (
	defaultFIFOGroup = "{{ .Namespace }}"
	defaultFIFODedup = "{{ .UID }}-{{ .GetCount }}"
)

// FIFOFields parses the FIFO group and deduplication id templates (with
// their defaults) of a FIFO queue or topic, and refuses them on a standard
// one.
func FIFOFields(path, what string, fifo bool, group, dedup string, groupDst, dedupDst **sinks.Template) error {
	if !fifo {
		if group != "" || dedup != "" {
			return fmt.Errorf("%s: messageGroupId and messageDeduplicationId are for FIFO %s", path, what)
		}
		return nil
	}
	return sinks.ParseFields(path,
		sinks.Field("messageGroupId", group, defaultFIFOGroup, groupDst),
		sinks.Field("messageDeduplicationId", dedup, defaultFIFODedup, dedupDst))
}
