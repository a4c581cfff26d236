package sinks

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/rs/zerolog"
)

// Schemes is which URL schemes a receiver's endpoint may use. Each
// receiver keeps the policy its users' files rely on.
type Schemes int

const (
	// HTTPOrHTTPS: either, to any host (webhook, Loki, AWS endpoints:
	// users point these at in-cluster services over plain http).
	HTTPOrHTTPS Schemes = iota
	// HTTPSOnly: https; plain http only to a loopback address (a local
	// test server or proxy). For URLs that carry a token or are one
	// (Slack's API, Teams and BigQuery endpoints).
	HTTPSOnly
)

// Endpoint is a receiver's URL, checked at load by CheckEndpoint.
type Endpoint struct {
	Path string // where the config sets it: receivers[0].webhook.endpoint
	URL  *url.URL
}

// CheckEndpoint parses raw, the URL set at path: it must be absolute
// http(s) with a host, in schemes. An empty raw is an error when required,
// and nil (no endpoint, no error) otherwise. Errors name path and never
// quote the URL (it may hold a secret).
func CheckEndpoint(path, raw string, required bool, schemes Schemes) (*Endpoint, error) {
	if raw == "" {
		if required {
			return nil, fmt.Errorf("%s: required", path)
		}
		return nil, nil
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%s: not an http(s) URL (http[s]://host[:port]/path)", path)
	}
	if schemes == HTTPSOnly && u.Scheme == "http" && !IsLoopback(u.Host) {
		return nil, fmt.Errorf("%s: must be https:// (plain http only to a loopback address): what it carries would travel in the clear", path)
	}
	return &Endpoint{Path: path, URL: u}, nil
}

// Redacted is the endpoint's scheme and host, for logs.
func (e *Endpoint) Redacted() string { return e.URL.Scheme + "://" + e.URL.Host }

// Warn logs, once at load, what the endpoint exposes: TLS verification
// turned off, and credentials (set elsewhere in the receiver, or in the
// URL itself) sent over plain http to another machine. e may be nil (no
// endpoint: the service's default, https).
func (e *Endpoint) Warn(log zerolog.Logger, tls TLSConfig, credentials bool) {
	if e == nil {
		return
	}
	WarnTLS(log, e.Path, e.Redacted(), tls)
	if (credentials || e.URL.User != nil) && e.URL.Scheme == "http" && !IsLoopback(e.URL.Host) {
		log.Warn().Str("receiver_path", e.Path).Str("endpoint", e.Redacted()).
			Msg("credentials sent over plain http: use https")
	}
}

// WarnTLS logs, once at load, that the receiver at path turned TLS
// certificate verification off for where it sends (a redacted URL or an
// address).
func WarnTLS(log zerolog.Logger, path, where string, tls TLSConfig) {
	if tls.InsecureSkipVerify {
		log.Warn().Str("receiver_path", path).Str("endpoint", where).
			Msg("TLS certificate verification is off (tls.insecureSkipVerify): anyone on the path can read and change what is sent")
	}
}

// CredentialHeaders reports whether headers (names as configured) carry
// credentials: Authorization, X-Honeycomb-Team, or a name with token,
// key, secret or password in it.
func CredentialHeaders(headers map[string]string) bool {
	for name := range headers {
		n := strings.ToLower(name)
		if n == "authorization" || n == "x-honeycomb-team" || strings.Contains(n, "token") || strings.Contains(n, "key") ||
			strings.Contains(n, "secret") || strings.Contains(n, "password") {
			return true
		}
	}
	return false
}
