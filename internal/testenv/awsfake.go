package testenv

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// Test credentials the AWS fakes accept.
const (
	AWSAccessKey = "AKIDEVENTIDETEST"
	AWSSecretKey = "eventide-test-secret"
)

// AWSRequest is one request an AWSFake received.
type AWSRequest struct {
	Operation string // X-Amz-Target (JSON protocols) or Action (query protocol)
	Header    http.Header
	Body      []byte
}

// AWSFake is an AWS endpoint for services with no local server: it checks
// each request's SigV4 signature by signing it again with the test
// credentials, records it, and answers with the test's Respond.
type AWSFake struct {
	*httptest.Server
	Service string // signing name: firehose, events, ssm, sns
	mu      sync.Mutex
	reqs    []AWSRequest
	bad     []string
	respond func(op string, body []byte) (int, string)
}

// NewAWSFake starts a fake for service; respond answers each operation.
func NewAWSFake(service string, respond func(op string, body []byte) (int, string)) *AWSFake {
	f := &AWSFake{Service: service, respond: respond}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	return f
}

// Requests returns the correctly signed requests received so far.
func (f *AWSFake) Requests() []AWSRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]AWSRequest(nil), f.reqs...)
}

// SignatureErrors lists requests whose signature did not verify.
func (f *AWSFake) SignatureErrors() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.bad...)
}

// SetRespond replaces the answer function.
func (f *AWSFake) SetRespond(respond func(op string, body []byte) (int, string)) {
	f.mu.Lock()
	f.respond = respond
	f.mu.Unlock()
}

func (f *AWSFake) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	op := r.Header.Get("X-Amz-Target")
	if op == "" {
		op = actionOf(body)
	}
	if err := f.verify(r, body); err != nil {
		f.mu.Lock()
		f.bad = append(f.bad, err.Error())
		f.mu.Unlock()
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		w.WriteHeader(http.StatusForbidden)
		_, _ = io.WriteString(w, `{"__type":"SignatureDoesNotMatch","message":"`+err.Error()+`"}`)
		return
	}
	f.mu.Lock()
	f.reqs = append(f.reqs, AWSRequest{Operation: op, Header: r.Header.Clone(), Body: body})
	respond := f.respond
	f.mu.Unlock()
	code, resp := respond(op, body)
	if strings.HasPrefix(strings.TrimSpace(resp), "<") {
		w.Header().Set("Content-Type", "text/xml")
	} else {
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	}
	w.WriteHeader(code)
	_, _ = io.WriteString(w, resp)
}

func actionOf(body []byte) string {
	for _, kv := range strings.Split(string(body), "&") {
		if v, ok := strings.CutPrefix(kv, "Action="); ok {
			return v
		}
	}
	return ""
}

// verify signs a copy of r (only its signed headers) with the test
// credentials and compares the signatures.
func (f *AWSFake) verify(r *http.Request, body []byte) error {
	auth := r.Header.Get("Authorization")
	if !strings.HasPrefix(auth, "AWS4-HMAC-SHA256 ") {
		return fmt.Errorf("no SigV4 authorization")
	}
	parts := map[string]string{}
	for _, p := range strings.Split(strings.TrimPrefix(auth, "AWS4-HMAC-SHA256 "), ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
		parts[k] = v
	}
	scope := strings.Split(parts["Credential"], "/")
	if len(scope) != 5 || scope[0] != AWSAccessKey || scope[3] != f.Service {
		return fmt.Errorf("credential scope %q, want key %s and service %s", parts["Credential"], AWSAccessKey, f.Service)
	}
	t, err := time.Parse("20060102T150405Z", r.Header.Get("X-Amz-Date"))
	if err != nil {
		return fmt.Errorf("X-Amz-Date: %w", err)
	}
	req, _ := http.NewRequest(r.Method, "http://"+r.Host+r.URL.RequestURI(), bytes.NewReader(body))
	for _, h := range strings.Split(parts["SignedHeaders"], ";") {
		if h != "host" {
			req.Header[http.CanonicalHeaderKey(h)] = r.Header.Values(h)
		}
	}
	req.ContentLength = int64(len(body))
	sum := sha256.Sum256(body)
	creds := aws.Credentials{AccessKeyID: AWSAccessKey, SecretAccessKey: AWSSecretKey}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), f.Service, scope[2], t); err != nil {
		return err
	}
	if got := req.Header.Get("Authorization"); got != auth {
		return fmt.Errorf("signature mismatch:\n got  %s\n want %s", auth, got)
	}
	return nil
}

// SetAWSTestEnv points the AWS SDK's default chain at the test credentials
// and at nothing from the machine running the test.
func SetAWSTestEnv(t interface{ Setenv(k, v string) }) {
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID": AWSAccessKey, "AWS_SECRET_ACCESS_KEY": AWSSecretKey, "AWS_SESSION_TOKEN": "",
		"AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null", "AWS_REGION": "", "AWS_PROFILE": "",
	} {
		t.Setenv(k, v)
	}
}
