package sinks

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
)

// AWSConfig is what every AWS receiver shares: credentials come from the
// default chain (environment, shared files, web identity / IRSA, instance
// role), optionally assuming roleARN.
type AWSConfig struct {
	Region   string `yaml:"region"`
	Endpoint string `yaml:"endpoint"` // for compatible services and tests
	RoleARN  string `yaml:"roleARN"`
}

// load builds the SDK configuration. It reads the environment and shared
// files but calls nothing: credentials are fetched on first use. The SDK's
// own retries are off, so the receiver runtime retries and counts each
// attempt once.
func (c AWSConfig) load(path string) (aws.Config, error) {
	opts := []func(*config.LoadOptions) error{
		config.WithRetryer(func() aws.Retryer { return aws.NopRetryer{} }),
	}
	if c.Region != "" {
		opts = append(opts, config.WithRegion(c.Region))
	}
	cfg, err := config.LoadDefaultConfig(context.Background(), opts...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("%s: aws configuration: %w", path, err)
	}
	var errs []error
	if cfg.Region == "" {
		errs = append(errs, fmt.Errorf("%s.region: required (or set AWS_REGION)", path))
	}
	if c.Endpoint != "" {
		if u, err := url.Parse(c.Endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("%s.endpoint: %q is not an http(s) URL", path, c.Endpoint))
		}
	}
	if c.RoleARN != "" {
		cfg.Credentials = aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(sts.NewFromConfig(cfg), c.RoleARN,
			func(o *stscreds.AssumeRoleOptions) { o.RoleSessionName = "eventide-" + hostname() }))
	}
	return cfg, errors.Join(errs...)
}

// endpoint is the BaseEndpoint override for a service client, or nil.
func (c AWSConfig) endpoint() *string {
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

// classifyAWS turns an SDK error into an *Error: throttling, 5xx and
// network failures are retryable; other API errors (missing stream, access
// denied, validation) are not.
func classifyAWS(err error) error {
	if err == nil {
		return nil
	}
	var ae smithy.APIError
	if errors.As(err, &ae) && throttlingCodes[ae.ErrorCode()] {
		return Retryable("rate_limited", err, 0)
	}
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		switch code := re.HTTPStatusCode(); {
		case code == 429:
			return Retryable("rate_limited", err, 0)
		case code >= 500 || code == 408:
			return Retryable("http_5xx", err, 0)
		default:
			return Permanent("http_4xx", err)
		}
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return Retryable("timeout", err, 0)
	}
	if ae != nil {
		return Permanent("http_4xx", err)
	}
	return Retryable("network", err, 0)
}

// entryErrors maps a batch answer's per-entry error codes (nil: accepted)
// to one error per entry sent; n is how many were sent.
func entryErrors[T any](n int, answers []T, codeOf func(T) (code, msg *string)) []error {
	errs := make([]error, n)
	for j, a := range answers {
		if code, msg := codeOf(a); j < n && code != nil {
			errs[j] = recordError(aws.ToString(code), aws.ToString(msg))
		}
	}
	return errs
}

// recordError is the error of one record in a batch answer: retryable for
// throttling and internal failures, as the AWS APIs document.
func recordError(code, msg string) error {
	err := fmt.Errorf("%s: %s", code, msg)
	if throttlingCodes[code] {
		return Retryable("rate_limited", err, 0)
	}
	return Permanent("http_4xx", err)
}
