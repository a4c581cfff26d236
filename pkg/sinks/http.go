package sinks

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
)

// TLSConfig is the client TLS of every receiver (the `tls` key).
// Certificates are verified unless insecureSkipVerify is set (warned
// about at load: WarnTLS).
type TLSConfig struct {
	// Enable turns TLS on where no URL scheme says so (Kafka's brokers,
	// as kubernetes-event-exporter had it); a URL's https does elsewhere.
	Enable             bool   `yaml:"enable"`
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

// RedactURLError reduces the URL in a transport error to its scheme and
// host: credentials, path and query (Slack and Teams webhooks carry their
// secret in the path) never reach a log line.
func RedactURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s %s: %w", ue.Op, RedactURL(ue.URL), ue.Err)
	}
	return err
}

// RedactURL is raw's scheme and host only, for logs and errors.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "<url>"
	}
	return u.Scheme + "://" + u.Host
}

// MaxResponseBytes bounds every response body eventide reads from a
// receiver: a server that sends more is answered with an error, not read
// into memory.
const MaxResponseBytes = 1 << 20

// ErrResponseTooLarge is the read error past MaxResponseBytes.
var ErrResponseTooLarge = fmt.Errorf("response body over %d bytes", MaxResponseBytes)

// NewHTTPClient is the client of an HTTP receiver: tc for TLS (nil: the
// system's roots, verified), no redirects followed (a 3xx is answered as
// it is: following one turns a POST into a GET that loses the event), and
// response bodies bounded by MaxResponseBytes.
func NewHTTPClient(tc *tls.Config) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if tc != nil {
		tr.TLSClientConfig = tc
	}
	tr.MaxIdleConnsPerHost = 4
	return &http.Client{
		Transport:     boundedBodies{tr},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// boundedBodies wraps each response body in a reader that fails past
// MaxResponseBytes.
type boundedBodies struct{ http.RoundTripper }

func (b boundedBodies) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := b.RoundTripper.RoundTrip(req)
	if err == nil {
		resp.Body = &boundedBody{ReadCloser: resp.Body, left: MaxResponseBytes}
	}
	return resp, err
}

type boundedBody struct {
	io.ReadCloser
	left int64
}

func (b *boundedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		return 0, ErrResponseTooLarge
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.ReadCloser.Read(p)
	b.left -= int64(n)
	return n, err
}

// RedirectError is the permanent failure of a 3xx answer.
func RedirectError(code int, location string) error {
	return &Error{Class: ClassRedirect, Status: code,
		Err: fmt.Errorf("HTTP %d redirect to %s: eventide does not follow redirects; set the final URL as the endpoint", code, RedactURL(location))}
}

// IsLoopback reports whether host (with or without a port) is this
// machine: the one place a plain-HTTP receiver URL is accepted.
func IsLoopback(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	ip := net.ParseIP(host)
	return host == "localhost" || (ip != nil && ip.IsLoopback())
}

// TransportError classifies an error from an HTTP client call that got no
// answer: a timeout (the receiver never answered within the send timeout)
// or a network failure; both are retryable, and the URL is redacted.
func TransportError(err error) error {
	if cut, ok := CutShort(RedactURLError(err)); ok {
		return cut
	}
	return Retryable(ClassNetwork, RedactURLError(err), 0)
}

// MaxAnswerRead is how much of a 2xx answer Send reads and returns.
const MaxAnswerRead = 1 << 16

// SendJSON sends body as JSON with headers and classifies the answer: a
// 2xx is delivered (its first MaxAnswerRead bytes are returned), a 3xx is a redirect
// failure, other statuses as HTTPStatusError says. No answer is a
// TransportError.
func SendJSON(ctx context.Context, client *http.Client, method, endpoint string, headers [][2]string, body []byte) ([]byte, error) {
	return Send(ctx, client, method, endpoint, "application/json", headers, body)
}

// Send is SendJSON for a body of any content type.
func Send(ctx context.Context, client *http.Client, method, endpoint, contentType string, headers [][2]string, body []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, endpoint, bytes.NewReader(body))
	if err != nil {
		return nil, Permanent(ClassOther, RedactURLError(err))
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("User-Agent", "eventide")
	for _, h := range headers {
		req.Header.Set(h[0], h[1])
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, AtHost(TransportError(err), endpoint)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		// Accepted, whatever follows: a body that fails, never ends or
		// passes the limit is not read further (sending again would
		// duplicate the post).
		answer, _ := io.ReadAll(io.LimitReader(resp.Body, MaxAnswerRead))
		return answer, nil
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		where := ""
		if loc, err := resp.Location(); err == nil {
			where = loc.String()
		}
		return nil, AtHost(RedirectError(resp.StatusCode, where), endpoint)
	}
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	return nil, AtHost(HTTPStatusError(resp.StatusCode, resp.Header.Get("Retry-After"), msg), endpoint)
}
