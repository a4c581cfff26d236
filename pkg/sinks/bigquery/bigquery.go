// Package bigquery streams events into a BigQuery table with Google's
// generated REST client (google.golang.org/api/bigquery/v2): one
// tabledata.insertAll request per batch, a row per event with an insert ID from the event's UID and
// occurrence, so a re-send within BigQuery's dedup window is dropped.
// Without a layout the row has the documented Schema, and the table (and
// its dataset) is created with it on the first send when missing; with a
// layout, the rendered object is the row and the table is the user's.
//
// The client is made on the first send, not at load, so `eventide
// validate` needs no credentials.
package bigquery

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"
	bq "google.golang.org/api/bigquery/v2"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/option"
	"gopkg.in/yaml.v3"

	"github.com/eventide/eventide/pkg/kube/event"
	"github.com/eventide/eventide/pkg/sinks"
)

// Config keeps the old keys (location, project, dataset, table,
// credentials_path, batch_size, interval_seconds, max_retries,
// timeout_seconds).
type Config struct {
	Project string `yaml:"project"`
	Dataset string `yaml:"dataset"`
	Table   string `yaml:"table"`
	// Location is where a dataset eventide creates lives (default US).
	Location string `yaml:"location"`
	// CredentialsPath is a service account key file; default the client's
	// own lookup (workload identity, GOOGLE_APPLICATION_CREDENTIALS).
	CredentialsPath string `yaml:"credentials_path"`
	// The old batching keys: batch_size is batchSize, interval_seconds is
	// flushInterval. max_retries and timeout_seconds are accepted with a
	// warning: delivery.maxRetries and delivery.timeout do that here.
	OldBatchSize    int `yaml:"batch_size"`
	IntervalSeconds int `yaml:"interval_seconds"`
	MaxRetries      int `yaml:"max_retries"`
	TimeoutSeconds  int `yaml:"timeout_seconds"`
	sinks.Batching  `yaml:",inline"`
	// CreateTable creates the dataset and table when missing (default: on
	// without a layout; a layout's table is the user's to create).
	CreateTable *bool `yaml:"createTable"`
	// Endpoint replaces https://bigquery.googleapis.com/bigquery/v2/ (a
	// private endpoint, an emulator); plain http only on loopback.
	Endpoint string `yaml:"endpoint"`
	// Anonymous sends no credentials (an emulator).
	Anonymous bool      `yaml:"anonymous"`
	Layout    yaml.Node `yaml:"layout"`
	DeDot     bool      `yaml:"deDot"`
}

var (
	projectName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9.:_-]*$`)
	datasetName = regexp.MustCompile(`^[A-Za-z0-9_]+$`)
	// tableName is what BigQuery allows: letters, marks, numbers,
	// connectors, dashes and spaces.
	tableName = regexp.MustCompile(`^[\p{L}\p{M}\p{N}\p{Pc}\p{Pd} ]+$`)
)

func (c *Config) Build(path string, deps sinks.Deps) (sinks.Sink, error) {
	var errs []error
	name := func(key, v string, re *regexp.Regexp, what string) {
		switch {
		case v == "":
			errs = append(errs, fmt.Errorf("%s.%s: required", path, key))
		case !re.MatchString(v):
			errs = append(errs, fmt.Errorf("%s.%s: %q is not a BigQuery %s name (%s)", path, key, v, what, re))
		}
	}
	name("project", c.Project, projectName, "project")
	name("dataset", c.Dataset, datasetName, "dataset")
	name("table", c.Table, tableName, "table")
	s := &sink{project: c.Project, dataset: c.Dataset, table: c.Table, location: c.Location,
		credentials: c.CredentialsPath, anonymous: c.Anonymous, log: deps.Log, layout: c.Layout.Kind != 0}
	if s.location == "" {
		s.location = "US"
	}
	errs = append(errs, c.oldBatching(path))
	batching, err := c.Batching.Check(path)
	errs = append(errs, err)
	s.Batching = batching
	s.create = !s.layout
	if c.CreateTable != nil {
		s.create = *c.CreateTable
		if s.create && s.layout {
			errs = append(errs, fmt.Errorf("%s.createTable: eventide creates only its own schema's table; create the table for your layout's columns yourself", path))
		}
	}
	if _, err := sinks.CheckEndpoint(path+".endpoint", c.Endpoint, false, sinks.HTTPSOnly); err != nil {
		errs = append(errs, err)
	}
	s.endpoint = c.Endpoint
	if c.MaxRetries != 0 {
		deps.Log.Warn().Str("receiver_path", path).Msg("max_retries has no effect: set the receiver's delivery.maxRetries")
	}
	if c.TimeoutSeconds != 0 {
		deps.Log.Warn().Str("receiver_path", path).Msg("timeout_seconds has no effect: set the receiver's delivery.timeout")
	}
	p, err := sinks.NewPayload(path, c.Layout, c.DeDot, deps.MaxPayloadBytes)
	errs = append(errs, err)
	s.payload = p
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return s, nil
}

// oldBatching moves batch_size and interval_seconds onto the Batching
// keys; setting both spellings of one is an error.
func (c *Config) oldBatching(path string) error {
	var errs []error
	if c.OldBatchSize != 0 {
		if c.BatchSize != 0 {
			errs = append(errs, fmt.Errorf("%s: batch_size and batchSize are the same setting; keep batchSize", path))
		}
		c.BatchSize = c.OldBatchSize
	}
	if c.IntervalSeconds != 0 {
		if c.FlushInterval != 0 {
			errs = append(errs, fmt.Errorf("%s: interval_seconds and flushInterval are the same setting; keep flushInterval", path))
		}
		if c.IntervalSeconds < 0 {
			errs = append(errs, fmt.Errorf("%s.interval_seconds: %d is negative", path, c.IntervalSeconds))
		}
		c.FlushInterval = time.Duration(c.IntervalSeconds) * time.Second
	}
	return errors.Join(errs...)
}

type sink struct {
	project, dataset, table, location, credentials, endpoint string
	anonymous, create, layout                                bool
	payload                                                  sinks.Payload
	log                                                      zerolog.Logger
	sinks.Batching

	mu     sync.Mutex
	client *bq.Service
}

func (s *sink) Send(ctx context.Context, ev *event.EnhancedEvent) error {
	return s.SendBatch(ctx, []*event.EnhancedEvent{ev})[0]
}

// SendBatch inserts evs with one insertAll request, invalid rows skipped
// so the others go in: one error per event. A row BigQuery calls invalid
// is permanent (dead-lettered); a row it did not take for another reason
// is retried alone.
func (s *sink) SendBatch(ctx context.Context, evs []*event.EnhancedEvent) []error {
	errs := make([]error, len(evs))
	req := &bq.TableDataInsertAllRequest{SkipInvalidRows: true}
	var index []int // req.Rows[j] is evs[index[j]]
	for i, ev := range evs {
		row, err := s.row(ev)
		if err != nil {
			errs[i] = err
			continue
		}
		req.Rows = append(req.Rows, &bq.TableDataInsertAllRequestRows{InsertId: insertID(ev), Json: row})
		index = append(index, i)
	}
	if len(req.Rows) == 0 {
		return errs
	}
	res, err := s.insert(ctx, req)
	if err != nil {
		for _, i := range index {
			errs[i] = err
		}
		return errs
	}
	unmatched := 0
	for _, ie := range res.InsertErrors {
		if ie == nil || ie.Index < 0 || int(ie.Index) >= len(index) {
			unmatched++
			continue
		}
		errs[index[ie.Index]] = rowError(ie)
	}
	if unmatched > 0 {
		// An error about a row that was not sent: which row it meant is
		// unknown, so no row without an error of its own counts as
		// stored. Sent again, the insertId drops what was.
		err := sinks.Retryable(sinks.ClassOther, fmt.Errorf("insertAll answered %d row errors for rows that were not sent (%d sent)", unmatched, len(index)), 0)
		for _, i := range index {
			if errs[i] == nil {
				errs[i] = err
			}
		}
	}
	return errs
}

// insert sends req, creating the table first when it is missing and
// createTable is on.
func (s *sink) insert(ctx context.Context, req *bq.TableDataInsertAllRequest) (*bq.TableDataInsertAllResponse, error) {
	client, err := s.connect(ctx)
	if err != nil {
		return nil, err
	}
	call := func() (*bq.TableDataInsertAllResponse, error) {
		return client.Tabledata.InsertAll(s.project, s.dataset, s.table, req).Context(ctx).Do()
	}
	res, err := call()
	if !s.create || !isCode(err, http.StatusNotFound) {
		return res, classify(err)
	}
	if err := s.createTable(ctx, client); err != nil {
		return nil, err
	}
	res, err = call()
	if isCode(err, http.StatusNotFound) {
		// A table just made can take a moment to take streamed rows.
		return nil, sinks.Retryable(sinks.ClassOther, fmt.Errorf("table %s created, not found yet: %w", s.tableRef(), err), 0)
	}
	return res, classify(err)
}

// createTable makes the table with Schema, day-partitioned on time, and
// its dataset first when that is missing too. Another replica winning the
// race (409) is fine.
func (s *sink) createTable(ctx context.Context, client *bq.Service) error {
	table := &bq.Table{
		TableReference:   &bq.TableReference{ProjectId: s.project, DatasetId: s.dataset, TableId: s.table},
		Schema:           &bq.TableSchema{Fields: Schema},
		TimePartitioning: &bq.TimePartitioning{Type: "DAY", Field: "time"},
		Description:      "Kubernetes events, written by eventide",
	}
	create := func() error {
		_, err := client.Tables.Insert(s.project, s.dataset, table).Context(ctx).Do()
		return err
	}
	err := create()
	if isCode(err, http.StatusNotFound) {
		ds := &bq.Dataset{DatasetReference: &bq.DatasetReference{ProjectId: s.project, DatasetId: s.dataset}, Location: s.location}
		if _, err := client.Datasets.Insert(s.project, ds).Context(ctx).Do(); err != nil && !isCode(err, http.StatusConflict) {
			return classify(fmt.Errorf("create dataset %s.%s: %w", s.project, s.dataset, err))
		}
		s.log.Info().Str("dataset", s.project+"."+s.dataset).Str("location", s.location).Msg("created the BigQuery dataset")
		err = create()
	}
	if err != nil && !isCode(err, http.StatusConflict) {
		return classify(fmt.Errorf("create table %s: %w", s.tableRef(), err))
	}
	s.log.Info().Str("table", s.tableRef()).Msg("created the BigQuery table")
	return nil
}

func (s *sink) tableRef() string { return s.project + "." + s.dataset + "." + s.table }

// connect makes the client once.
func (s *sink) connect(ctx context.Context) (*bq.Service, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.client != nil {
		return s.client, nil
	}
	opts := []option.ClientOption{option.WithScopes(bq.BigqueryInsertdataScope, bq.BigqueryScope)}
	if s.credentials != "" {
		opts = append(opts, option.WithCredentialsFile(s.credentials)) //nolint:staticcheck // a key file the user names
	}
	if s.endpoint != "" {
		opts = append(opts, option.WithEndpoint(s.endpoint))
	}
	if s.anonymous {
		opts = append(opts, option.WithHTTPClient(sinks.NewHTTPClient(nil)))
	}
	client, err := bq.NewService(ctx, opts...)
	if err != nil {
		return nil, sinks.Retryable(sinks.ClassOther, fmt.Errorf("bigquery client: %w", err), 0)
	}
	s.client = client
	return client, nil
}

// row is ev's row: the layout's object, or the Schema row.
func (s *sink) row(ev *event.EnhancedEvent) (map[string]bq.JsonValue, error) {
	if !s.layout {
		return defaultRow(ev)
	}
	payload, err := s.payload.Render(ev)
	if err != nil {
		return nil, err
	}
	row, err := layoutRow(payload)
	if err != nil {
		return nil, sinks.Permanent(sinks.ClassTemplate, err)
	}
	return row, nil
}

// insertID is the UID and the occurrence, so the same occurrence sent
// twice is one row (BigQuery drops repeats of an ID for about a minute).
func insertID(ev *event.EnhancedEvent) string {
	return event.OccurrenceID(&ev.Event) // "" for hand-written events: the client makes one up
}

// rowError classifies one row's failure: "invalid" (a value the schema
// refuses) is for good; "stopped", "timeout" and the rest are retried.
func rowError(ie *bq.TableDataInsertAllResponseInsertErrors) error {
	var msgs []string
	class, retryable := sinks.ClassOther, true
	for _, e := range ie.Errors {
		if e == nil {
			continue
		}
		msgs = append(msgs, fmt.Sprintf("%s: %s %s", e.Reason, e.Location, e.Message))
		switch e.Reason {
		case "invalid":
			class, retryable = sinks.ClassRejected, false
		case "timeout":
			if retryable {
				class = sinks.ClassTimeout
			}
		}
	}
	err := fmt.Errorf("row %d: %s", ie.Index, strings.Join(msgs, "; "))
	if !retryable {
		return sinks.Permanent(class, err)
	}
	return sinks.Retryable(class, err, 0)
}

// classify: 429, quota and rate errors, 5xx, timeouts and network failures
// are retried; a missing table, a denied permission or a bad request are
// not.
func classify(err error) error {
	if err == nil {
		return nil
	}
	var se *sinks.Error
	if errors.As(err, &se) {
		return err
	}
	var ge *googleapi.Error
	if !errors.As(err, &ge) {
		return sinks.TransportError(err)
	}
	for _, item := range ge.Errors {
		switch item.Reason {
		case "rateLimitExceeded", "quotaExceeded":
			return sinks.Retryable(sinks.ClassRateLimited, err, 0)
		}
	}
	switch {
	case ge.Code == http.StatusTooManyRequests:
		return sinks.Retryable(sinks.ClassRateLimited, err, 0)
	case ge.Code >= 500 || ge.Code == http.StatusRequestTimeout:
		return sinks.Retryable(sinks.ClassHTTP5xx, err, 0)
	case ge.Code == http.StatusNotFound:
		return sinks.Permanent(sinks.ClassRejected, err)
	case ge.Code >= 300 && ge.Code < 400:
		return sinks.Permanent(sinks.ClassRedirect, fmt.Errorf("eventide does not follow redirects; set the final endpoint: %w", err))
	}
	return sinks.Permanent(sinks.ClassHTTP4xx, err)
}

func isCode(err error, code int) bool {
	var ge *googleapi.Error
	return errors.As(err, &ge) && ge.Code == code
}

func (s *sink) Preview(ev *event.EnhancedEvent) (any, error) {
	row, err := s.row(ev)
	if err != nil {
		return nil, err
	}
	return map[string]any{"table": s.tableRef(), "insertId": insertID(ev), "row": row}, nil
}

func (s *sink) Close() error { return nil }

var (
	_ sinks.Previewer = (*sink)(nil)
	_ sinks.Lingerer  = (*sink)(nil)
)
