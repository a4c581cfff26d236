package awsbase

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/eventide/eventide/pkg/sinks"
)

// JSONAPI calls one operation family of an AWS service that speaks the
// JSON protocol (a POST with X-Amz-Target, JSON 1.0 or 1.1), signed with
// SigV4. It is
// the narrow client for a receiver that makes one call: a service's SDK
// package registers its whole schema at every start (SSM's alone
// allocated 1.4 MB), for a request this builds in a few lines.
type JSONAPI struct {
	service  string // signing name and endpoint prefix: ssm
	target   string // X-Amz-Target prefix: AmazonSSM
	content  string // application/x-amz-json-1.1 or -1.0
	endpoint string
	region   string
	creds    aws.CredentialsProvider
	signer   *v4.Signer
	client   *http.Client
}

// JSON protocol versions.
const (
	JSON10 = "1.0" // SQS
	JSON11 = "1.1" // SSM, Kinesis, Firehose, EventBridge
)

// Service names an AWS service for JSONAPI.
type Service struct {
	SigningName string // and endpoint prefix: ssm
	SDKID       string // as the SDKs name it, for AWS_ENDPOINT_URL_<SDKID>: SSM
	Target      string // X-Amz-Target prefix: AmazonSSM
	JSON        string // protocol version: JSON10 or JSON11
}

// NewJSONAPI is svc's API with cfg's region and credentials, at the
// endpoint Endpoint resolves.
func NewJSONAPI(ctx context.Context, cfg aws.Config, c Config, svc Service) *JSONAPI {
	return &JSONAPI{service: svc.SigningName, target: svc.Target, content: "application/x-amz-json-" + svc.JSON,
		endpoint: Endpoint(ctx, cfg, c, svc), region: cfg.Region,
		creds: cfg.Credentials, signer: v4.NewSigner(), client: sinks.NewHTTPClient(nil)}
}

// Endpoint is where svc's calls go, resolved as the SDKs resolve it: the
// receiver's endpoint key; else, unless ignore_configured_endpoints, the
// endpoint configured for the service (AWS_ENDPOINT_URL_<SDKID>, the
// shared config's services section), then for every service
// (AWS_ENDPOINT_URL, endpoint_url); else the region's public endpoint,
// its FIPS one with use_fips_endpoint.
func Endpoint(ctx context.Context, cfg aws.Config, c Config, svc Service) string {
	if c.Endpoint != "" {
		return c.Endpoint
	}
	type (
		ignoring interface {
			GetIgnoreConfiguredEndpoints(context.Context) (bool, bool, error)
		}
		perService interface {
			GetServiceBaseEndpoint(context.Context, string) (string, bool, error)
		}
		fips interface {
			GetUseFIPSEndpoint(context.Context) (aws.FIPSEndpointState, bool, error)
		}
	)
	ignore, useFIPS := false, false
	for _, src := range cfg.ConfigSources {
		if s, ok := src.(ignoring); ok {
			if v, found, err := s.GetIgnoreConfiguredEndpoints(ctx); err == nil && found {
				ignore = v
			}
		}
		if s, ok := src.(fips); ok {
			if v, found, err := s.GetUseFIPSEndpoint(ctx); err == nil && found && v == aws.FIPSEndpointStateEnabled {
				useFIPS = true
			}
		}
	}
	if !ignore {
		for _, src := range cfg.ConfigSources {
			if s, ok := src.(perService); ok {
				if v, found, err := s.GetServiceBaseEndpoint(ctx, svc.SDKID); err == nil && found && v != "" {
					return v
				}
			}
		}
		if cfg.BaseEndpoint != nil && *cfg.BaseEndpoint != "" {
			return *cfg.BaseEndpoint
		}
	}
	host := svc.SigningName
	if useFIPS {
		host += "-fips"
	}
	endpoint := "https://" + host + "." + cfg.Region + ".amazonaws.com"
	if strings.HasPrefix(cfg.Region, "cn-") {
		endpoint += ".cn"
	}
	return endpoint
}

// Call sends in as operation op and decodes a 2xx answer into out (nil:
// the answer is not read). A failure is classified as Classify does for
// the SDKs: throttling, 429, 408 and 5xx are retried, other answers not.
func (a *JSONAPI) Call(ctx context.Context, op string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return sinks.Permanent(sinks.ClassOther, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.endpoint, bytes.NewReader(body))
	if err != nil {
		return sinks.Permanent(sinks.ClassOther, sinks.RedactURLError(err))
	}
	req.Header.Set("Content-Type", a.content)
	req.Header.Set("X-Amz-Target", a.target+"."+op)
	req.Header.Set("User-Agent", "eventide")
	if a.creds == nil {
		return sinks.Permanent(sinks.ClassOther, fmt.Errorf("%s %s: no AWS credentials configured", a.service, op))
	}
	creds, err := a.creds.Retrieve(ctx)
	if err != nil {
		return sinks.Retryable(sinks.ClassOther, fmt.Errorf("%s %s: aws credentials: %w", a.service, op, err), 0)
	}
	sum := sha256.Sum256(body)
	if err := a.signer.SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), a.service, a.region, time.Now()); err != nil {
		return sinks.Permanent(sinks.ClassOther, fmt.Errorf("%s %s: sign: %w", a.service, op, err))
	}
	resp, err := a.client.Do(req)
	if err != nil {
		return sinks.TransportError(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		if out == nil {
			return nil
		}
		// An answer that cannot be read does not undo the call: it happened.
		_ = json.NewDecoder(resp.Body).Decode(out) // bounded by the client (sinks.MaxResponseBytes)
		return nil
	}
	return a.answerError(op, resp)
}

// answerError classifies a non-2xx answer by its status and the error
// code in its body ({"__type": "…#ThrottlingException", "message": …}).
func (a *JSONAPI) answerError(op string, resp *http.Response) error {
	var e struct {
		Type    string `json:"__type"`
		Message string `json:"message"`
		Upper   string `json:"Message"`
	}
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	_ = json.Unmarshal(raw, &e)
	code := e.Type[strings.LastIndexByte(e.Type, '#')+1:]
	msg := e.Message + e.Upper
	err := fmt.Errorf("%s %s: HTTP %d %s: %s", a.service, op, resp.StatusCode, code, sinks.Truncate(msg, 200))
	switch status := resp.StatusCode; {
	case throttlingCodes[code] || status == http.StatusTooManyRequests:
		return sinks.Retryable(sinks.ClassRateLimited, err, 0)
	case status >= 300 && status < 400:
		return sinks.RedirectError(status, resp.Header.Get("Location"))
	case status >= 500 || status == http.StatusRequestTimeout:
		return sinks.Retryable(sinks.ClassHTTP5xx, err, 0)
	}
	return sinks.Permanent(sinks.ClassHTTP4xx, err)
}

// EntryResult is one entry's result in a batch answer (Firehose's
// RequestResponses, EventBridge's Entries, Kinesis's Records): an error
// code and message when the entry was not taken.
type EntryResult struct {
	ErrorCode    *string `json:"ErrorCode"`
	ErrorMessage *string `json:"ErrorMessage"`
}

// Codes is r's error code and message, for EntryErrors.
func (r EntryResult) Codes() (code, msg *string) { return r.ErrorCode, r.ErrorMessage }
