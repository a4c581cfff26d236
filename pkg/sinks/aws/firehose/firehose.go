// Package firehose puts a record per event on a Firehose delivery stream (PutRecordBatch).
package firehose

import (
	"context"
	"errors"
	"fmt"

	"github.com/eventide/eventide/pkg/sinks"
	awsbase "github.com/eventide/eventide/pkg/sinks/aws/awsbase"

	"github.com/eventide/eventide/pkg/kube/event"

	"gopkg.in/yaml.v3"
)

// Firehose PutRecordBatch limits.
const (
	firehoseMaxRecords      = 500
	firehoseMaxRecordBytes  = 1000 << 10
	firehoseMaxRequestBytes = 4 << 20
)

// Config puts a record per event on a Firehose delivery stream,
// batched with PutRecordBatch. Each record ends with a newline, so the
// objects Firehose writes hold one JSON document per line.
type Config struct {
	DeliveryStreamName string    `yaml:"deliveryStreamName"`
	Layout             yaml.Node `yaml:"layout"`
	DeDot              bool      `yaml:"deDot"`
	sinks.Batching     `yaml:",inline"`
	awsbase.Config     `yaml:",inline"`
}

func (c *Config) Build(path string, deps sinks.Deps) (sinks.Sink, error) {
	var errs []error
	if c.DeliveryStreamName == "" {
		errs = append(errs, fmt.Errorf("%s.deliveryStreamName: required", path))
	}
	p, err := sinks.NewPayload(path, c.Layout, c.DeDot, deps.MaxPayloadBytes)
	errs = append(errs, err)
	batching, err := c.Batching.CheckMax(path, firehoseMaxRecords)
	errs = append(errs, err)
	cfg, err := c.Load(deps.Ctx, path)
	errs = append(errs, err)
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return &firehoseSink{Batching: batching, stream: c.DeliveryStreamName, payload: p,
		api: awsbase.NewJSONAPI(deps.Ctx, cfg, c.Config, awsbase.Service{SigningName: "firehose", SDKID: "Firehose", Target: "Firehose_20150804", JSON: awsbase.JSON11})}, nil
}

type firehoseSink struct {
	sinks.Batching
	stream  string
	payload sinks.Payload
	api     *awsbase.JSONAPI
}

// PutRecordBatch's request and answer, as Firehose's JSON API has them.
type (
	record struct {
		Data []byte `json:"Data"` // base64 on the wire
	}
	putRecordBatch struct {
		DeliveryStreamName string   `json:"DeliveryStreamName"`
		Records            []record `json:"Records"`
	}
	putRecordBatchAnswer struct {
		FailedPutCount   int                   `json:"FailedPutCount"`
		RequestResponses []awsbase.EntryResult `json:"RequestResponses"`
	}
)

// record is ev's record (a JSON line) and its size.
func (s *firehoseSink) record(ev *event.EnhancedEvent) (record, int, error) {
	b, err := s.payload.Render(ev)
	b = append(b, '\n')
	return record{Data: b}, len(b), err
}

func (s *firehoseSink) Preview(ev *event.EnhancedEvent) (any, error) {
	r, _, err := s.record(ev)
	if err != nil {
		return nil, err
	}
	return map[string]any{"deliveryStreamName": s.stream, "data": sinks.PreviewBody(r.Data)}, nil
}

func (s *firehoseSink) Send(ctx context.Context, ev *event.EnhancedEvent) error {
	return s.SendBatch(ctx, []*event.EnhancedEvent{ev})[0]
}

func (s *firehoseSink) SendBatch(ctx context.Context, evs []*event.EnhancedEvent) []error {
	return awsbase.BatchEntries(evs, firehoseMaxRecordBytes, firehoseMaxRequestBytes, firehoseMaxRecords,
		s.record,
		func(records []record) ([]error, error) {
			var out putRecordBatchAnswer
			if err := s.api.Call(ctx, "PutRecordBatch", putRecordBatch{DeliveryStreamName: s.stream, Records: records}, &out); err != nil {
				return nil, err
			}
			return awsbase.EntryErrors(len(records), out.FailedPutCount, out.RequestResponses, awsbase.EntryResult.Codes), nil
		})
}

func (s *firehoseSink) Close() error { return nil }

// Send and Preview build the request with the same code.
var _ sinks.Previewer = (*firehoseSink)(nil)
