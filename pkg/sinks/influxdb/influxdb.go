// Package influxdb writes events as points of InfluxDB's line protocol,
// to the v1 API (database, retention policy) or the v2 API (org, bucket,
// token), a batch per request. Tags are few and bounded by default: each
// distinct tag value makes a series.
package influxdb

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/eventide/eventide/pkg/kube/event"
	"github.com/eventide/eventide/pkg/sinks"
)

// Config writes events to InfluxDB 1.x (database) or 2.x (org, bucket).
type Config struct {
	URL string `yaml:"url"`
	// v1
	Database        string       `yaml:"database"` // default k8s (kube-eventer's)
	RetentionPolicy string       `yaml:"retentionPolicy"`
	Username        string       `yaml:"username"`
	Password        sinks.Secret `yaml:"password"`
	// v2
	Org    string       `yaml:"org"`
	Bucket string       `yaml:"bucket"`
	Token  sinks.Secret `yaml:"token"`

	Measurement string `yaml:"measurement"` // default kubernetes_events
	// Tags replace the default tags (templates; an empty value leaves the
	// tag out). Fields replace the string fields message and name; the
	// integer field count is always written.
	Tags   map[string]string `yaml:"tags" tmpl:"true"`
	Fields map[string]string `yaml:"fields" tmpl:"true"`

	sinks.Batching `yaml:",inline"`
	TLS            sinks.TLSConfig `yaml:"tls"`
}

// DefaultMeasurement is the measurement when none is set.
const DefaultMeasurement = "kubernetes_events"

// defaultTags are bounded: never the object's name or UID (a series each).
var defaultTags = map[string]string{
	"namespace": "{{ .InvolvedObject.Namespace }}",
	"kind":      "{{ .InvolvedObject.Kind }}",
	"reason":    "{{ .Reason }}",
	"type":      "{{ .Type }}",
	"component": "{{ if .Source.Component }}{{ .Source.Component }}{{ else }}{{ .ReportingController }}{{ end }}",
	"workload":  "{{ with .InvolvedObject.Workload }}{{ .Kind }}/{{ .Name }}{{ end }}",
	"cluster":   "{{ .ClusterName }}",
}

var defaultFields = map[string]string{
	"message": "{{ .Message }}",
	"name":    "{{ .InvolvedObject.Name }}",
}

func (c *Config) Build(path string, deps sinks.Deps) (sinks.Sink, error) {
	var errs []error
	endpoint, err := sinks.CheckEndpoint(path+".url", c.URL, true, sinks.HTTPOrHTTPS)
	errs = append(errs, err)
	s := &sink{measurement: c.Measurement, occurrences: sinks.NewOccurrences(), log: deps.Log}
	if s.measurement == "" {
		s.measurement = DefaultMeasurement
	}
	v2 := c.Org != "" || c.Bucket != "" || c.Token != ""
	v1 := c.Database != "" || c.RetentionPolicy != "" || c.Username != "" || c.Password != ""
	base := strings.TrimRight(c.URL, "/")
	switch {
	case v1 && v2:
		errs = append(errs, fmt.Errorf("%s: database/retentionPolicy/username/password (InfluxDB 1.x) or org/bucket/token (2.x), not both", path))
	case v2:
		if c.Org == "" || c.Bucket == "" {
			errs = append(errs, fmt.Errorf("%s: InfluxDB 2.x needs org and bucket (and token)", path))
		}
		s.write = base + "/api/v2/write?precision=ns&org=" + url.QueryEscape(c.Org) + "&bucket=" + url.QueryEscape(c.Bucket)
		if c.Token != "" {
			s.headers = [][2]string{{"Authorization", "Token " + c.Token.Value()}}
		}
		s.v2 = true
	default:
		db := c.Database
		if db == "" {
			db = "k8s"
		}
		s.write = base + "/write?precision=ns&db=" + url.QueryEscape(db)
		if c.RetentionPolicy != "" {
			s.write += "&rp=" + url.QueryEscape(c.RetentionPolicy)
		}
		if c.Username != "" || c.Password != "" {
			s.username, s.password = c.Username, c.Password.Value()
		}
	}
	tags, fields := c.Tags, c.Fields
	if tags == nil {
		tags = defaultTags
	}
	if fields == nil {
		fields = defaultFields
	}
	if _, ok := fields["count"]; ok {
		errs = append(errs, fmt.Errorf("%s.fields.count: count is always written (the occurrences this update adds, an integer)", path))
	}
	s.tags, err = sinks.ParseTemplateMap(path+".tags", tags)
	errs = append(errs, err)
	s.fields, err = sinks.ParseTemplateMap(path+".fields", fields)
	errs = append(errs, err)
	s.Batching, err = c.Batching.CheckWith(path, sinks.BatchDefaults{Size: 1000, Flush: time.Second, Max: 10000})
	errs = append(errs, err)
	tc, err := c.TLS.Build(path + ".tls")
	errs = append(errs, err)
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	endpoint.Warn(deps.Log, c.TLS, c.Token != "" || c.Password != "")
	s.client = sinks.NewHTTPClient(tc)
	return s, nil
}

type sink struct {
	sinks.Batching
	write              string // the write URL, with its query
	v2                 bool
	headers            [][2]string // v2's token
	username, password string      // v1's basic auth
	measurement        string
	tags, fields       *sinks.TemplateMap
	occurrences        *sinks.Occurrences
	log                zerolog.Logger
	client             *http.Client
}

func (s *sink) Send(ctx context.Context, ev *event.EnhancedEvent) error {
	return s.SendBatch(ctx, []*event.EnhancedEvent{ev})[0]
}

// lines renders evs as points; an event whose templates fail gets its
// error and no line. index[i] is the event of line i.
func (s *sink) lines(evs []*event.EnhancedEvent, errs []error) (body []byte, index []int) {
	for i, ev := range evs {
		p, err := s.point(ev)
		if err != nil {
			errs[i] = err
			continue
		}
		body = p.appendLine(body)
		index = append(index, i)
	}
	return body, index
}

func (s *sink) point(ev *event.EnhancedEvent) (*point, error) {
	tags, err := s.tags.Render(ev)
	if err != nil {
		return nil, fmt.Errorf("tags.%w", err)
	}
	fields, err := s.fields.Render(ev)
	if err != nil {
		return nil, fmt.Errorf("fields.%w", err)
	}
	return &point{measurement: s.measurement, tags: tags, fields: fields, count: s.occurrences.Added(ev),
		at: pointTime(ev.GetLastTime(), string(ev.UID), ev.GetCount())}, nil
}

func (s *sink) SendBatch(ctx context.Context, evs []*event.EnhancedEvent) []error {
	errs := make([]error, len(evs))
	body, index := s.lines(evs, errs)
	if len(index) == 0 {
		return errs
	}
	err := s.post(ctx, body)
	if err == nil {
		return errs
	}
	lineErrs, dropped := s.classify(err, len(index))
	for i, e := range lineErrs {
		errs[index[i]] = e
	}
	if dropped > 0 {
		s.log.Warn().Int("dropped", dropped).Int("points", len(index)).Str("answer", sinks.Truncate(err.Error(), 300)).
			Msg("influxdb kept part of a batch and did not say which points it dropped: counted as written")
	}
	return errs
}

func (s *sink) post(ctx context.Context, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.write, strings.NewReader(string(body)))
	if err != nil {
		return sinks.Permanent(sinks.ClassOther, sinks.RedactURLError(err))
	}
	req.Header.Set("Content-Type", "text/plain; charset=utf-8")
	req.Header.Set("User-Agent", "eventide")
	for _, h := range s.headers {
		req.Header.Set(h[0], h[1])
	}
	if s.username != "" || s.password != "" {
		req.SetBasicAuth(s.username, s.password)
	}
	return answer(s.client.Do(req))
}

func (s *sink) Preview(ev *event.EnhancedEvent) (any, error) {
	p, err := s.point(ev)
	if err != nil {
		return nil, err
	}
	return sinks.NewHTTPPreview(http.MethodPost, s.write, s.headers, p.appendLine(nil)), nil
}

func (s *sink) Close() error {
	s.client.CloseIdleConnections()
	return nil
}

var (
	_ sinks.Lingerer  = (*sink)(nil)
	_ sinks.Previewer = (*sink)(nil)
)
