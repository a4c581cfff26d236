// Package loki pushes events to Grafana Loki's push API (protobuf,
// snappy-compressed): one request per batch, entries grouped into streams
// by their rendered labels, each entry at its event's own occurrence time.
package loki

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/golang/snappy"
	"gopkg.in/yaml.v3"

	"github.com/eventide/eventide/pkg/kube/event"
	"github.com/eventide/eventide/pkg/sinks"
)

// maxLabels is Loki's default max_label_names_per_series.
const maxLabels = 15

// Config keeps the old keys (url, streamLabels, headers, tls, layout).
type Config struct {
	URL string `yaml:"url"`
	// StreamLabels are templates now; keep them few and bounded: every
	// distinct set is a stream in Loki.
	StreamLabels map[string]string `yaml:"streamLabels" tmpl:"true"`
	Headers      map[string]string `yaml:"headers" tmpl:"true"`
	// TenantID is sent as X-Scope-OrgID.
	TenantID    string          `yaml:"tenantID"`
	Username    string          `yaml:"username"`
	Password    sinks.Secret    `yaml:"password"`
	BearerToken sinks.Secret    `yaml:"bearerToken"`
	TLS         sinks.TLSConfig `yaml:"tls"`
	Layout      yaml.Node       `yaml:"layout"`
	DeDot       bool            `yaml:"deDot"`
	// One push per batch.
	sinks.Batching `yaml:",inline"`
}

var (
	labelName = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)
	// unbounded finds what makes a label a stream per object or event.
	unbounded = regexp.MustCompile(`\.(InvolvedObject\.)?(Name|UID)\b|\.Message\b|\.GetCount\b|\.Count\b|Timestamp`)
)

func (c *Config) Build(path string, deps sinks.Deps) (sinks.Sink, error) {
	var errs []error
	endpoint, err := sinks.CheckEndpoint(path+".url", c.URL, true, sinks.HTTPOrHTTPS)
	if err != nil && c.URL == "" {
		err = fmt.Errorf("%w (http://loki:3100/loki/api/v1/push)", err)
	}
	errs = append(errs, err)
	if len(c.StreamLabels) > maxLabels {
		errs = append(errs, fmt.Errorf("%s.streamLabels: %d labels, over Loki's limit of %d", path, len(c.StreamLabels), maxLabels))
	}
	for name, text := range c.StreamLabels {
		if !labelName.MatchString(name) {
			errs = append(errs, fmt.Errorf("%s.streamLabels.%s: not a label name ([a-zA-Z_][a-zA-Z0-9_]*)", path, name))
		}
		if unbounded.MatchString(text) {
			deps.Log.Warn().Str("receiver_path", path).Str("label", name).
				Msg("loki stream label from an object name, UID, message, count or time: a stream per value, which Loki handles badly; put it in the line instead")
		}
	}
	labels, err := sinks.ParseTemplateMap(path+".streamLabels", c.StreamLabels)
	errs = append(errs, err)
	headers, err := sinks.ParseTemplateMap(path+".headers", c.Headers)
	errs = append(errs, err)
	p, err := sinks.NewPayload(path, c.Layout, c.DeDot, deps.MaxPayloadBytes)
	errs = append(errs, err)
	tc, err := c.TLS.Build(path + ".tls")
	errs = append(errs, err)
	endpoint.Warn(deps.Log, c.TLS, c.Password != "" || c.BearerToken != "" || sinks.CredentialHeaders(c.Headers))
	if c.Username != "" && c.BearerToken != "" {
		errs = append(errs, fmt.Errorf("%s: username and bearerToken: set one", path))
	}
	batching, err := c.Batching.Check(path)
	errs = append(errs, err)
	s := &lokiSink{url: c.URL, labels: labels, headers: headers, payload: p, tenant: c.TenantID,
		user: c.Username, pass: c.Password, token: c.BearerToken, Batching: batching}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	s.client = sinks.NewHTTPClient(tc)
	return s, nil
}

type lokiSink struct {
	url, tenant, user string
	pass, token       sinks.Secret
	labels, headers   *sinks.TemplateMap
	payload           sinks.Payload
	client            *http.Client
	sinks.Batching
}

func (s *lokiSink) Send(ctx context.Context, ev *event.EnhancedEvent) error {
	return s.SendBatch(ctx, []*event.EnhancedEvent{ev})[0]
}

// SendBatch pushes evs, one request per distinct set of rendered headers
// (a templated X-Scope-OrgID sends each tenant's events to its own
// tenant). Loki takes or refuses a push as a whole, so the result is the
// same for every event of a request: a 429 or 5xx is retried, a 400 (an
// entry too old, out of order) is not.
func (s *lokiSink) SendBatch(ctx context.Context, evs []*event.EnhancedEvent) []error {
	errs := make([]error, len(evs))
	byHeaders := map[string]*push{}
	var pushes []*push
	for i, ev := range evs {
		headers, err := s.requestHeaders(ev)
		if err != nil {
			errs[i] = err
			continue
		}
		labels, e, err := s.entry(ev)
		if err != nil {
			errs[i] = err
			continue
		}
		key := headersKey(headers)
		p := byHeaders[key]
		if p == nil {
			p = &push{headers: headers, byLabels: map[string]*stream{}}
			byHeaders[key] = p
			pushes = append(pushes, p)
		}
		p.add(labels, e, i)
	}
	for _, p := range pushes {
		for _, st := range p.streams { // Loki wants each stream's entries in time order
			sort.SliceStable(st.entries, func(a, b int) bool { return st.entries[a].at.Before(st.entries[b].at) })
		}
		body := snappy.Encode(nil, appendPushRequest(nil, p.streams))
		_, err := sinks.Send(ctx, s.client, http.MethodPost, s.url, "application/x-protobuf", p.headers, body)
		for _, i := range p.events {
			errs[i] = err
		}
	}
	return errs
}

// push is one request: the events whose headers rendered alike.
type push struct {
	headers  [][2]string
	byLabels map[string]*stream
	streams  []*stream
	events   []int // indexes in the batch
}

func (p *push) add(labels string, e entry, i int) {
	st := p.byLabels[labels]
	if st == nil {
		st = &stream{labels: labels}
		p.byLabels[labels] = st
		p.streams = append(p.streams, st)
	}
	st.entries = append(st.entries, e)
	p.events = append(p.events, i)
}

// headersKey is a map key for a rendered header list.
func headersKey(h [][2]string) string {
	var b strings.Builder
	for _, kv := range h {
		b.WriteString(kv[0])
		b.WriteByte(0)
		b.WriteString(kv[1])
		b.WriteByte(0)
	}
	return b.String()
}

// entry is ev's stream labels ({a="x", b="y"}, sorted) and log entry.
func (s *lokiSink) entry(ev *event.EnhancedEvent) (string, entry, error) {
	line, err := s.payload.Render(ev)
	if err != nil {
		return "", entry{}, err
	}
	kvs, err := s.labels.Render(ev)
	if err != nil {
		return "", entry{}, fmt.Errorf("streamLabels.%w", err)
	}
	kvs = slices.DeleteFunc(kvs, func(kv [2]string) bool { return kv[1] == "" }) // Loki drops empty labels
	if len(kvs) == 0 {
		kvs = [][2]string{{"source", "eventide"}} // a stream needs one label
	}
	var b strings.Builder
	b.WriteByte('{')
	for i, kv := range kvs { // the TemplateMap renders in key order
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(kv[0])
		b.WriteByte('=')
		b.WriteString(strconv.Quote(kv[1]))
	}
	b.WriteByte('}')
	at := ev.GetLastTime()
	if at.IsZero() {
		at = time.Now()
	}
	return b.String(), entry{at: at, line: line}, nil
}

// requestHeaders are ev's templated headers, the tenant and the
// credentials.
func (s *lokiSink) requestHeaders(ev *event.EnhancedEvent) ([][2]string, error) {
	h, err := s.headers.Render(ev)
	if err != nil {
		return nil, fmt.Errorf("headers.%w", err)
	}
	if s.tenant != "" {
		h = append(h, [2]string{"X-Scope-OrgID", s.tenant})
	}
	switch {
	case s.token != "":
		h = append(h, [2]string{"Authorization", "Bearer " + s.token.Value()})
	case s.user != "":
		h = append(h, [2]string{"Authorization", "Basic " + base64.StdEncoding.EncodeToString([]byte(s.user+":"+s.pass.Value()))})
	}
	return h, nil
}

func (s *lokiSink) Preview(ev *event.EnhancedEvent) (any, error) {
	labels, e, err := s.entry(ev)
	if err != nil {
		return nil, err
	}
	return map[string]any{"url": sinks.RedactURL(s.url), "stream": labels, "timestamp": e.at, "line": sinks.PreviewBody(e.line)}, nil
}

func (s *lokiSink) Close() error {
	s.client.CloseIdleConnections()
	return nil
}

var (
	_ sinks.Previewer = (*lokiSink)(nil)
	_ sinks.Lingerer  = (*lokiSink)(nil)
)
