package s3

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/eventide/eventide/pkg/sinks"
	"github.com/eventide/eventide/pkg/sinks/aws/awsbase"
)

// putter is the one S3 call the receiver makes, PutObject, signed with
// SigV4: the service's SDK package is large for one request (as
// awsbase.JSONAPI is for the JSON services).
type putter struct {
	endpoint *url.URL
	region   string
	creds    aws.CredentialsProvider
	signer   *v4.Signer
	client   *http.Client
}

func newPutter(ctx context.Context, cfg aws.Config, c awsbase.Config) *putter {
	endpoint, _ := url.Parse(awsbase.Endpoint(ctx, cfg, c, awsbase.Service{SigningName: "s3", SDKID: "S3"}))
	return &putter{endpoint: endpoint, region: cfg.Region, creds: cfg.Credentials,
		signer: v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true }), client: sinks.NewHTTPClient(nil)}
}

// escapeKey URI-encodes each part of key as SigV4 asks for S3: every
// byte but letters, digits and -_.~ (and the slashes between parts).
func escapeKey(key string) string {
	var b strings.Builder
	for i := 0; i < len(key); i++ {
		c := key[i]
		switch {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-', c == '_', c == '.', c == '~', c == '/':
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// putObject uploads body (gzip) as bucket/key. Content-Type is
// application/gzip with no Content-Encoding: with it, readers (DuckDB)
// get bytes they cannot read.
func (p *putter) putObject(ctx context.Context, bucket, key string, pathStyle bool, body []byte, headers [][2]string) error {
	host, path := p.endpoint.Host, strings.TrimRight(p.endpoint.EscapedPath(), "/")+"/"
	if pathStyle {
		path += bucket + "/"
	} else {
		host = bucket + "." + host
	}
	// Escaped as SigV4 signs it for S3; url.Parse keeps it as RawPath.
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, p.endpoint.Scheme+"://"+host+path+escapeKey(key), bytes.NewReader(body))
	if err != nil {
		return sinks.Permanent(sinks.ClassOther, sinks.RedactURLError(err))
	}
	sum := sha256.Sum256(body)
	req.Header.Set("Content-Type", "application/gzip")
	req.Header.Set("X-Amz-Content-Sha256", hex.EncodeToString(sum[:]))
	req.Header.Set("User-Agent", "eventide")
	for _, h := range headers {
		req.Header.Set(h[0], h[1])
	}
	if p.creds == nil {
		return sinks.Permanent(sinks.ClassOther, fmt.Errorf("s3 PutObject: no AWS credentials configured"))
	}
	creds, err := p.creds.Retrieve(ctx)
	if err != nil {
		return sinks.Retryable(sinks.ClassOther, fmt.Errorf("s3 PutObject: aws credentials: %w", err), 0)
	}
	if err := p.signer.SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), "s3", p.region, time.Now()); err != nil {
		return sinks.Permanent(sinks.ClassOther, err)
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return sinks.TransportError(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		return nil
	}
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 2048))
	if resp.StatusCode == http.StatusServiceUnavailable && bytes.Contains(msg, []byte("SlowDown")) {
		return sinks.Retryable(sinks.ClassRateLimited, fmt.Errorf("s3 PutObject: SlowDown"), sinks.ParseRetryAfter(resp.Header.Get("Retry-After"), time.Now()))
	}
	return sinks.HTTPStatusError(resp.StatusCode, resp.Header.Get("Retry-After"), msg)
}
