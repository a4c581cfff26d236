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

// NewJSONAPI is service's API (signing name and endpoint prefix, as
// "ssm"; X-Amz-Target prefix, as "AmazonSSM"; JSON protocol version)
// with cfg's region and credentials, at c's endpoint or the region's
// public one.
func NewJSONAPI(cfg aws.Config, c Config, service, target, version string) *JSONAPI {
	endpoint := c.Endpoint
	if endpoint == "" {
		endpoint = "https://" + service + "." + cfg.Region + ".amazonaws.com"
		if strings.HasPrefix(cfg.Region, "cn-") {
			endpoint += ".cn"
		}
	}
	return &JSONAPI{service: service, target: target, content: "application/x-amz-json-" + version, endpoint: endpoint, region: cfg.Region,
		creds: cfg.Credentials, signer: v4.NewSigner(), client: sinks.NewHTTPClient(nil)}
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
		_ = json.NewDecoder(io.LimitReader(resp.Body, sinks.MaxAnswerRead)).Decode(out)
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
