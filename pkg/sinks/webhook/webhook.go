// Package webhook sends each event as JSON to an HTTP endpoint.
package webhook

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/eventide/eventide/pkg/sinks"

	"github.com/eventide/eventide/pkg/kube/event"

	"gopkg.in/yaml.v3"
)

// Config POSTs each event's payload as JSON to an HTTP endpoint.
type Config struct {
	Endpoint string            `yaml:"endpoint"`
	Method   string            `yaml:"method"` // default POST
	Headers  map[string]string `yaml:"headers" tmpl:"true"`
	Layout   yaml.Node         `yaml:"layout"`
	TLS      sinks.TLSConfig   `yaml:"tls"`
	// Preset fills the rest in for a service (presets.go): honeycomb,
	// with Dataset and APIKey.
	Preset  string       `yaml:"preset"`
	Dataset string       `yaml:"dataset"`
	APIKey  sinks.Secret `yaml:"apiKey"`
}

func (c *Config) Build(path string, deps sinks.Deps) (sinks.Sink, error) {
	if err := c.applyPreset(path); err != nil {
		return nil, err
	}
	var errs []error
	endpoint, err := sinks.CheckEndpoint(path+".endpoint", c.Endpoint, true, sinks.HTTPOrHTTPS)
	errs = append(errs, err)
	method := strings.ToUpper(c.Method)
	if method == "" {
		method = http.MethodPost
	}
	if method != http.MethodPost && method != http.MethodPut && method != http.MethodPatch {
		errs = append(errs, fmt.Errorf("%s.method: %q: use POST, PUT or PATCH", path, c.Method))
	}
	headers, err := sinks.ParseTemplateMap(path+".headers", c.Headers)
	errs = append(errs, err)
	p, err := sinks.NewPayload(path, c.Layout, false, deps.MaxPayloadBytes)
	errs = append(errs, err)
	tc, err := c.TLS.Build(path + ".tls")
	errs = append(errs, err)
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	endpoint.Warn(deps.Log, c.TLS, sinks.CredentialHeaders(c.Headers))
	return &webhookSink{
		receiver: deps.Receiver,
		endpoint: c.Endpoint,
		method:   method,
		headers:  headers,
		payload:  p,
		client:   sinks.NewHTTPClient(tc),
	}, nil
}

type webhookSink struct {
	receiver string // its name, for the Idempotency-Key
	endpoint string
	method   string
	headers  *sinks.TemplateMap
	payload  sinks.Payload
	client   *http.Client
}

func (s *webhookSink) Send(ctx context.Context, ev *event.EnhancedEvent) error {
	headers, body, err := s.request(ev)
	if err != nil {
		return err
	}
	_, err = sinks.SendJSON(ctx, s.client, s.method, s.endpoint, headers, body)
	return err
}

func (s *webhookSink) Preview(ev *event.EnhancedEvent) (any, error) {
	headers, body, err := s.request(ev)
	if err != nil {
		return nil, err
	}
	return sinks.NewHTTPPreview(s.method, s.endpoint, headers, body), nil
}

// request renders ev's headers and body.
func (s *webhookSink) request(ev *event.EnhancedEvent) ([][2]string, []byte, error) {
	body, err := s.payload.Render(ev)
	if err != nil {
		return nil, nil, err
	}
	headers, err := s.headers.Render(ev)
	if err != nil {
		return nil, nil, fmt.Errorf("headers.%w", err)
	}
	return sinks.WithIdempotencyKey(headers, s.receiver, ev), body, nil
}

func (s *webhookSink) Close() error {
	s.client.CloseIdleConnections()
	return nil
}

// Send and Preview build the request with the same code.
var _ sinks.Previewer = (*webhookSink)(nil)
