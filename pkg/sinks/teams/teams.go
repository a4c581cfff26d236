// Package teams posts a card per event to a Microsoft Teams webhook: an
// Adaptive Card for Workflows (Power Automate) URLs, a MessageCard for the
// legacy Office 365 connector URLs that still work.
package teams

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/eventide/eventide/pkg/kube/event"
	"github.com/eventide/eventide/pkg/sinks"
)

// Formats of the card.
const (
	FormatAdaptive    = "adaptive"
	FormatMessageCard = "messagecard"
)

// Config posts a card per event. endpoint, headers and layout are the old
// tool's keys; with a layout, the layout is posted as it is (as the old tool
// did), else a card with title, message and facts.
type Config struct {
	Endpoint sinks.Secret      `yaml:"endpoint"` // the URL carries its secret
	Headers  map[string]string `yaml:"headers" tmpl:"true"`
	Layout   yaml.Node         `yaml:"layout"`
	Format   string            `yaml:"format"` // adaptive or messagecard; default by the URL
	Title    string            `yaml:"title" tmpl:"true"`
	Message  string            `yaml:"message" tmpl:"true"`
	Color    string            `yaml:"color" tmpl:"true"` // MessageCard theme colour (hex)
	Facts    map[string]string `yaml:"facts" tmpl:"true"`
	TLS      sinks.TLSConfig   `yaml:"tls"`
}

// legacyHost reports whether u is an Office 365 connector URL, which takes
// MessageCards.
func legacyHost(host string) bool {
	return strings.HasSuffix(host, ".webhook.office.com") || host == "outlook.office.com"
}

func (c *Config) Build(path string, deps sinks.Deps) (sinks.Sink, error) {
	var errs []error
	endpoint, err := sinks.CheckEndpoint(path+".endpoint", c.Endpoint.Value(), true, sinks.HTTPSOnly)
	errs = append(errs, err)
	format := c.Format
	if format == "" && endpoint != nil {
		format = FormatAdaptive
		if legacyHost(endpoint.URL.Hostname()) {
			format = FormatMessageCard
		}
	}
	if format != FormatAdaptive && format != FormatMessageCard {
		errs = append(errs, fmt.Errorf("%s.format: %q: use adaptive or messagecard", path, c.Format))
	}
	s := &teamsSink{endpoint: c.Endpoint.Value(), format: format, receiver: deps.Receiver}
	errs = append(errs, sinks.ParseFields(path,
		sinks.Field("title", c.Title, sinks.DefaultAlertMessage, &s.title),
		sinks.Field("message", c.Message, "{{ .Message }}", &s.message),
		sinks.Field("color", c.Color, `{{ if eq .Type "Warning" }}D9534F{{ else }}2EB886{{ end }}`, &s.color)))
	var err2 error
	s.headers, err2 = sinks.ParseTemplateMap(path+".headers", c.Headers)
	errs = append(errs, err2)
	s.facts, err2 = sinks.ParseTemplateMap(path+".facts", c.Facts)
	errs = append(errs, err2)
	if c.Layout.Kind != 0 {
		p, err := sinks.NewPayload(path, c.Layout, false, deps.MaxPayloadBytes)
		errs = append(errs, err)
		s.layout = &p
	}
	tc, err := c.TLS.Build(path + ".tls")
	errs = append(errs, err)
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	endpoint.Warn(deps.Log, c.TLS, true) // the URL is the credential
	s.client = sinks.NewHTTPClient(tc)
	return s, nil
}

type teamsSink struct {
	endpoint              string
	format                string
	title, message, color *sinks.Template
	headers, facts        *sinks.TemplateMap
	receiver              string // its name, for the Idempotency-Key
	layout                *sinks.Payload
	client                *http.Client
}

type fact struct {
	Title string `json:"title,omitempty"`
	Name  string `json:"name,omitempty"`
	Value string `json:"value"`
}

func (s *teamsSink) Preview(ev *event.EnhancedEvent) (any, error) {
	headers, body, err := s.request(ev)
	if err != nil {
		return nil, err
	}
	return sinks.NewHTTPPreview(http.MethodPost, s.endpoint, headers, body), nil
}

// request renders ev's headers and card.
func (s *teamsSink) request(ev *event.EnhancedEvent) ([][2]string, []byte, error) {
	body, err := s.render(ev)
	if err != nil {
		return nil, nil, err
	}
	headers, err := s.headers.Render(ev)
	if err != nil {
		return nil, nil, fmt.Errorf("headers.%w", err)
	}
	return sinks.WithIdempotencyKey(headers, s.receiver, ev), body, nil
}

func (s *teamsSink) Send(ctx context.Context, ev *event.EnhancedEvent) error {
	headers, body, err := s.request(ev)
	if err != nil {
		return err
	}
	answer, err := sinks.SendJSON(ctx, s.client, http.MethodPost, s.endpoint, headers, body)
	if err != nil {
		return err
	}
	// A legacy connector answers 200 with "1"; anything else in a 200 is
	// its way of saying it refused the card (the old tool ignored it).
	// An answer past what is read is not looked at: the post was accepted.
	if s.format == FormatMessageCard && len(answer) > 0 && len(answer) < sinks.MaxAnswerRead && strings.TrimSpace(string(answer)) != "1" {
		return sinks.Permanent(sinks.ClassRejected, fmt.Errorf("teams: %s", sinks.Truncate(string(answer), 200)))
	}
	return nil
}

func (s *teamsSink) render(ev *event.EnhancedEvent) ([]byte, error) {
	if s.layout != nil {
		return s.layout.Render(ev)
	}
	r := sinks.Renderer{Event: ev}
	title, message, color := r.Render("title", s.title), r.Render("message", s.message), r.Render("color", s.color)
	kv, err := s.facts.Render(ev)
	if err != nil && r.Err == nil {
		r.Err = fmt.Errorf("facts.%w", err)
	}
	if r.Err != nil {
		return nil, r.Err
	}
	if s.format == FormatMessageCard {
		facts := make([]fact, len(kv))
		for i, f := range kv {
			facts[i] = fact{Name: f[0], Value: f[1]}
		}
		card := map[string]any{"@type": "MessageCard", "@context": "https://schema.org/extensions",
			"summary": title, "title": title, "text": message, "themeColor": color}
		if len(facts) > 0 {
			card["sections"] = []any{map[string]any{"facts": facts}}
		}
		return json.Marshal(card)
	}
	body := []any{
		map[string]any{"type": "TextBlock", "text": title, "weight": "Bolder", "size": "Medium", "wrap": true},
		map[string]any{"type": "TextBlock", "text": message, "wrap": true},
	}
	if len(kv) > 0 {
		facts := make([]fact, len(kv))
		for i, f := range kv {
			facts[i] = fact{Title: f[0], Value: f[1]}
		}
		body = append(body, map[string]any{"type": "FactSet", "facts": facts})
	}
	return json.Marshal(map[string]any{"type": "message", "attachments": []any{map[string]any{
		"contentType": "application/vnd.microsoft.card.adaptive",
		"content": map[string]any{"$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
			"type": "AdaptiveCard", "version": "1.4", "body": body},
	}}})
}

func (s *teamsSink) Close() error {
	s.client.CloseIdleConnections()
	return nil
}

// Send and Preview build the request with the same code.
var _ sinks.Previewer = (*teamsSink)(nil)
