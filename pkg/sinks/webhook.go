package sinks

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"

	"github.com/eventide/eventide/pkg/kube/event"

	"gopkg.in/yaml.v3"
)

// WebhookConfig POSTs each event's payload as JSON to an HTTP endpoint.
type WebhookConfig struct {
	Endpoint string            `yaml:"endpoint"`
	Method   string            `yaml:"method"` // default POST
	Headers  map[string]string `yaml:"headers"`
	Layout   yaml.Node         `yaml:"layout"`
	TLS      TLSConfig         `yaml:"tls"`
}

// TLSConfig is the client TLS of an HTTP sink. Certificates are verified
// unless insecureSkipVerify is set.
type TLSConfig struct {
	InsecureSkipVerify bool   `yaml:"insecureSkipVerify"`
	ServerName         string `yaml:"serverName"`
	CAFile             string `yaml:"caFile"`
	CertFile           string `yaml:"certFile"`
	KeyFile            string `yaml:"keyFile"`
}

// Build reads the CA and client certificate files; errors name path.
func (c TLSConfig) Build(path string) (*tls.Config, error) {
	tc := &tls.Config{
		MinVersion:         tls.VersionTLS12,
		ServerName:         c.ServerName,
		InsecureSkipVerify: c.InsecureSkipVerify, //nolint:gosec // the user's explicit choice, warned about at start
	}
	var errs []error
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("%s.caFile: %w", path, err))
		default:
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				errs = append(errs, fmt.Errorf("%s.caFile: no PEM certificate in %s", path, c.CAFile))
			}
			tc.RootCAs = pool
		}
	}
	if (c.CertFile == "") != (c.KeyFile == "") {
		errs = append(errs, fmt.Errorf("%s: certFile and keyFile go together", path))
	} else if c.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s.certFile: %w", path, err))
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, errors.Join(errs...)
}

func (c *WebhookConfig) build(path string, deps Deps) (Sink, error) {
	var errs []error
	u, err := url.Parse(c.Endpoint)
	switch {
	case c.Endpoint == "":
		errs = append(errs, fmt.Errorf("%s.endpoint: required", path))
	case err != nil, u.Scheme != "http" && u.Scheme != "https", u.Host == "":
		errs = append(errs, fmt.Errorf("%s.endpoint: %q is not an http(s) URL", path, c.Endpoint))
	}
	method := strings.ToUpper(c.Method)
	if method == "" {
		method = http.MethodPost
	}
	if method != http.MethodPost && method != http.MethodPut && method != http.MethodPatch {
		errs = append(errs, fmt.Errorf("%s.method: %q: use POST, PUT or PATCH", path, c.Method))
	}
	headers, err := ParseTemplateMap(path+".headers", c.Headers)
	errs = append(errs, err)
	p, err := newPayload(path, c.Layout, false)
	errs = append(errs, err)
	tc, err := c.TLS.Build(path + ".tls")
	errs = append(errs, err)
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if c.TLS.InsecureSkipVerify {
		deps.Log.Warn().Str("endpoint", u.Redacted()).Msg("webhook TLS certificate verification is off (tls.insecureSkipVerify)")
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = tc
	tr.MaxIdleConnsPerHost = 4
	return &webhookSink{
		endpoint: c.Endpoint,
		method:   method,
		headers:  headers,
		payload:  p,
		client:   &http.Client{Transport: tr},
	}, nil
}

type webhookSink struct {
	endpoint string
	method   string
	headers  *TemplateMap
	payload  payload
	client   *http.Client
}

func (s *webhookSink) Send(ctx context.Context, ev *event.EnhancedEvent) error {
	body, err := s.payload.render(ev)
	if err != nil {
		return err
	}
	headers, err := s.headers.Render(ev)
	if err != nil {
		return fmt.Errorf("headers.%w", err)
	}
	req, err := http.NewRequestWithContext(ctx, s.method, s.endpoint, bytes.NewReader(body))
	if err != nil {
		return Permanent("other", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "eventide")
	for _, h := range headers {
		req.Header.Set(h[0], h[1])
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return Retryable("network", redactURLError(err), 0)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
		return nil
	}
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	return HTTPStatusError(resp.StatusCode, resp.Header.Get("Retry-After"), msg)
}

func (s *webhookSink) Close() error {
	s.client.CloseIdleConnections()
	return nil
}

// redactURLError strips credentials and query strings (which may hold
// tokens) from the URL in a transport error.
func redactURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		if u, perr := url.Parse(ue.URL); perr == nil {
			u.RawQuery = ""
			return fmt.Errorf("%s %s: %w", ue.Op, u.Redacted(), ue.Err)
		}
	}
	return err
}
