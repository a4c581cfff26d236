package sinks

import (
	"encoding/json"
	"strings"

	"github.com/eventide/eventide/pkg/kube/event"
)

// Previewer is a Sink that shows what it would send for an event without
// sending it: `eventide route-test -render` and `eventide replay -dry-run`.
// Preview builds the request with the same code Send uses, so what it shows
// is what goes out. The value marshals to JSON; it holds no secret of the
// sink's own settings (tokens and keys live in clients and headers the
// preview leaves out), and URLs are reduced by RedactURL. Values that
// came from ${VAR} in templates are redacted by the caller.
type Previewer interface {
	Preview(ev *event.EnhancedEvent) (any, error)
}

// PreviewBody shows a payload: JSON as it is, anything else as a string.
func PreviewBody(b []byte) any {
	if json.Valid(b) {
		return json.RawMessage(b)
	}
	return string(b)
}

// HTTPPreview is the preview of an HTTP request.
type HTTPPreview struct {
	Method  string            `json:"method"`
	URL     string            `json:"url"`
	Headers map[string]string `json:"headers,omitempty"`
	Body    any               `json:"body"`
}

// NewHTTPPreview shows a request to endpoint (reduced to scheme and host);
// the values of headers that carry credentials are redacted.
func NewHTTPPreview(method, endpoint string, headers [][2]string, body []byte) HTTPPreview {
	p := HTTPPreview{Method: method, URL: RedactURL(endpoint), Body: PreviewBody(body)}
	for _, h := range headers {
		if p.Headers == nil {
			p.Headers = make(map[string]string, len(headers))
		}
		v := h[1]
		if credentialHeader(h[0]) {
			v = Secret(v).String()
		}
		p.Headers[h[0]] = v
	}
	return p
}

// credentialHeader tells a header whose value is a credential by its name.
func credentialHeader(name string) bool {
	n := strings.ToLower(name)
	if n == "idempotency-key" {
		return false // derived from the event, no secret (IdempotencyKey)
	}
	for _, w := range []string{"auth", "token", "key", "secret", "cookie", "signature", "password", "honeycomb-team"} {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
}
