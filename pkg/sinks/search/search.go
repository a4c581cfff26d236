// Package search is what the elasticsearch and opensearch receivers share:
// the old keys, document IDs that make a re-send overwrite instead of
// duplicate, index names from the event's own time, and the _bulk request
// with a result per item. Each receiver builds its official client and
// hands its Perform here.
package search

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/eventide/eventide/pkg/kube/event"
	"github.com/eventide/eventide/pkg/sinks"
)

// Config holds the keys both receivers have.
type Config struct {
	Hosts    []string     `yaml:"hosts"`
	Username string       `yaml:"username"`
	Password sinks.Secret `yaml:"password"`
	// UseEventID: the document _id is the event's UID, so every occurrence
	// overwrites one document (the old tool's option). Default: the UID
	// and the occurrence count, one document per occurrence.
	UseEventID bool `yaml:"useEventID"`
	// Index is a fixed index (or data stream) name; IndexFormat names it
	// from the event's time: "kube-events-{2006-01-02}", a Go time layout
	// in braces.
	Index       string `yaml:"index"`
	IndexFormat string `yaml:"indexFormat"`
	// Type was the mapping type of Elasticsearch 6; accepted and unused.
	Type   string          `yaml:"type"`
	TLS    sinks.TLSConfig `yaml:"tls"`
	Layout yaml.Node       `yaml:"layout"`
	DeDot  bool            `yaml:"deDot"`
	// OpType: index (default) or create (for data streams; a document
	// already there, a 409, counts as delivered).
	OpType string `yaml:"opType"`
	// One _bulk request per batch.
	sinks.Batching `yaml:",inline"`
}

// Perform sends a request with the receiver's client: it sets the node's
// scheme and host, authentication and headers.
type Perform func(*http.Request) (*http.Response, error)

// Sink bulk-indexes events.
type Sink struct {
	perform Perform
	index   indexName
	opType  string
	eventID bool
	payload sinks.Payload
	sinks.Batching
}

// maxAnswer bounds a _bulk answer read: 500 items with long errors fit.
const maxAnswer = 32 << 20

// Build checks c (errors under path; the receiver checks its hosts) and
// returns a sink around perform.
func (c *Config) Build(path string, perform Perform, maxPayload int) (*Sink, error) {
	var errs []error
	idx, err := parseIndex(c.Index, c.IndexFormat)
	if err != nil {
		errs = append(errs, fmt.Errorf("%s: %w", path, err))
	}
	batching, err := c.Batching.Check(path)
	errs = append(errs, err)
	s := &Sink{perform: perform, index: idx, eventID: c.UseEventID, Batching: batching}
	switch s.opType = c.OpType; s.opType {
	case "":
		s.opType = "index"
	case "index", "create":
	default:
		errs = append(errs, fmt.Errorf("%s.opType: %q is not index or create", path, c.OpType))
	}
	p, err := sinks.NewPayload(path, c.Layout, c.DeDot, maxPayload)
	errs = append(errs, err)
	s.payload = p
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return s, nil
}

// Transport checks the hosts and is the HTTP transport of c's TLS
// settings. It warns about what is set but does not do what it says, or
// what it exposes: TLS verification off, credentials (apiKey: another
// one the receiver has) over plain http, the old mapping type, and an
// index that indexFormat overrides.
func (c *Config) Transport(path string, deps sinks.Deps, apiKey bool) (*http.Transport, error) {
	var errs []error
	for i, h := range c.Hosts {
		e, err := sinks.CheckEndpoint(fmt.Sprintf("%s.hosts[%d]", path, i), h, true, sinks.HTTPOrHTTPS)
		errs = append(errs, err)
		e.Warn(deps.Log, c.TLS, apiKey || c.Password != "")
	}
	if len(c.Hosts) == 0 {
		sinks.WarnTLS(deps.Log, path, "cloudID", c.TLS)
	}
	if c.Type != "" {
		deps.Log.Warn().Str("receiver_path", path).Msg("type is ignored: mapping types were removed in Elasticsearch 7 and OpenSearch")
	}
	if c.Index != "" && c.IndexFormat != "" {
		deps.Log.Warn().Str("receiver_path", path).Str("indexFormat", c.IndexFormat).
			Msg("index and indexFormat are both set: indexFormat wins, as in kubernetes-event-exporter; remove index")
	}
	tc, err := c.TLS.Build(path + ".tls")
	if err := errors.Join(append(errs, err)...); err != nil {
		return nil, err
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSClientConfig = tc
	return t, nil
}

func (s *Sink) Close() error { return nil }

func (s *Sink) Send(ctx context.Context, ev *event.EnhancedEvent) error {
	return s.SendBatch(ctx, []*event.EnhancedEvent{ev})[0]
}

// document is ev's bulk action and source lines.
func (s *Sink) document(ev *event.EnhancedEvent) (action, source []byte, err error) {
	source, err = s.payload.Render(ev)
	if err != nil {
		return nil, nil, err
	}
	meta := map[string]string{"_index": s.index.at(ev.GetLastTime())}
	if id := s.id(ev); id != "" {
		meta["_id"] = id
	}
	action, err = json.Marshal(map[string]any{s.opType: meta})
	return action, source, err
}

// id is the document _id: the UID with useEventID, else the UID and the
// occurrence, so sending an occurrence again overwrites its document.
func (s *Sink) id(ev *event.EnhancedEvent) string {
	if ev.UID == "" {
		return "" // hand-written events: the server picks one
	}
	if s.eventID {
		return string(ev.UID)
	}
	return event.OccurrenceID(&ev.Event)
}

// SendBatch indexes evs with one _bulk request: one error per event, from
// the item's own status. Items the server refused for good (a mapping
// error) are permanent, and dead-lettered; 429 and 5xx items are retried
// alone.
func (s *Sink) SendBatch(ctx context.Context, evs []*event.EnhancedEvent) []error {
	errs := make([]error, len(evs))
	var body bytes.Buffer
	var sent []int
	for i, ev := range evs {
		action, source, err := s.document(ev)
		if err != nil {
			errs[i] = err
			continue
		}
		body.Write(action)
		body.WriteByte('\n')
		body.Write(source)
		body.WriteByte('\n')
		sent = append(sent, i)
	}
	if len(sent) == 0 {
		return errs
	}
	results, err := s.bulk(ctx, &body, len(sent))
	for j, i := range sent {
		if err != nil {
			errs[i] = err
		} else {
			errs[i] = results[j]
		}
	}
	return errs
}

// bulk posts body and returns one result per item.
func (s *Sink) bulk(ctx context.Context, body io.Reader, n int) ([]error, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "/_bulk", body)
	if err != nil {
		return nil, sinks.Permanent(sinks.ClassOther, err)
	}
	req.Header.Set("Content-Type", "application/x-ndjson")
	resp, err := s.perform(req)
	if err != nil {
		return nil, sinks.TransportError(err)
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return nil, sinks.Retryable(sinks.ClassNetwork, err, 0)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, sinks.HTTPStatusError(resp.StatusCode, resp.Header.Get("Retry-After"), answer)
	}
	var r bulkResponse
	if err := json.Unmarshal(answer, &r); err != nil || len(r.Items) != n {
		return nil, sinks.Retryable(sinks.ClassOther, fmt.Errorf("_bulk answered %d items for %d documents (%v): %s", len(r.Items), n, err, sinks.Truncate(string(answer), 200)), 0)
	}
	out := make([]error, n)
	for i, item := range r.Items {
		res, ok := item[s.opType]
		if len(item) != 1 || !ok || res.Status == 0 {
			// Not an answer about this document: it is not known to be
			// stored, so it is sent again.
			out[i] = sinks.Retryable(sinks.ClassOther, fmt.Errorf("_bulk item %d is not a %s result with a status: %s", i, s.opType, sinks.Truncate(string(answer), 200)), 0)
			continue
		}
		out[i] = res.err(s.opType)
	}
	return out, nil
}

type bulkResponse struct {
	Items []map[string]itemResult `json:"items"`
}

type itemResult struct {
	Status int `json:"status"`
	Error  *struct {
		Type   string `json:"type"`
		Reason string `json:"reason"`
	} `json:"error"`
}

func (r itemResult) err(opType string) error {
	switch {
	case r.Status >= 200 && r.Status <= 299:
		return nil
	case r.Status == http.StatusConflict && opType == "create":
		return nil // already there: a re-send of a delivered event
	}
	reason := fmt.Sprintf("item status %d", r.Status)
	if r.Error != nil {
		reason = fmt.Sprintf("item status %d: %s: %s", r.Status, r.Error.Type, sinks.Truncate(r.Error.Reason, 300))
	}
	switch {
	case r.Status == http.StatusTooManyRequests:
		return sinks.Retryable(sinks.ClassRateLimited, errors.New(reason), 0)
	case r.Status >= 500:
		return sinks.Retryable(sinks.ClassHTTP5xx, errors.New(reason), 0)
	}
	return sinks.Permanent(sinks.ClassRejected, errors.New(reason))
}

// Preview is the bulk action and document ev makes.
func (s *Sink) Preview(ev *event.EnhancedEvent) (any, error) {
	action, source, err := s.document(ev)
	if err != nil {
		return nil, err
	}
	return map[string]any{"action": json.RawMessage(action), "document": sinks.PreviewBody(source)}, nil
}

// indexName is a fixed name or literal parts and time layouts.
type indexName struct {
	parts []string // even: literal; odd: a time layout
}

// parseIndex reads index or indexFormat ("kube-events-{2006-01-02}");
// with both, indexFormat (the old tool's README set both).
func parseIndex(index, format string) (indexName, error) {
	switch {
	case index == "" && format == "":
		return indexName{}, errors.New("index: required (or indexFormat, such as kube-events-{2006-01-02})")
	case format == "": // both set: indexFormat wins, as in kubernetes-event-exporter
		if strings.ContainsAny(index, "{}") {
			return indexName{}, fmt.Errorf("index: %q has braces: use indexFormat for a name from the event's time", index)
		}
		return indexName{parts: []string{index}}, nil
	}
	var n indexName
	rest := format
	for {
		open := strings.IndexByte(rest, '{')
		if open < 0 {
			if strings.IndexByte(rest, '}') >= 0 {
				return indexName{}, fmt.Errorf("indexFormat: %q has a } without {", format)
			}
			n.parts = append(n.parts, rest)
			return n, nil
		}
		end := strings.IndexByte(rest[open:], '}')
		if end < 0 {
			return indexName{}, fmt.Errorf("indexFormat: %q has a { without }", format)
		}
		n.parts = append(n.parts, rest[:open], rest[open+1:open+end])
		rest = rest[open+end+1:]
	}
}

// at is the name for an event that happened at t (UTC).
func (n indexName) at(t time.Time) string {
	if len(n.parts) == 1 {
		return n.parts[0]
	}
	var b strings.Builder
	for i, p := range n.parts {
		if i%2 == 1 {
			b.WriteString(t.UTC().Format(p))
		} else {
			b.WriteString(p)
		}
	}
	return b.String()
}

var (
	_ sinks.Previewer = (*Sink)(nil)
	_ sinks.Lingerer  = (*Sink)(nil)
)
