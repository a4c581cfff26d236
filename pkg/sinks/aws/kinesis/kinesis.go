// Package kinesis puts a record per event on a Kinesis data stream (PutRecords).
package kinesis

import (
	"context"
	"errors"
	"fmt"

	"github.com/eventide/eventide/pkg/sinks"
	awsbase "github.com/eventide/eventide/pkg/sinks/aws/awsbase"

	"github.com/eventide/eventide/pkg/kube/event"

	"gopkg.in/yaml.v3"
)

// Kinesis PutRecords limits.
const (
	kinesisMaxRecords      = 500
	kinesisMaxRecordBytes  = 1 << 20 // data + partition key
	kinesisMaxRequestBytes = 5 << 20
	kinesisMaxKeyLen       = 256
)

// Config puts a record per event on a Kinesis data stream, batched
// with PutRecords.
type Config struct {
	StreamName     string    `yaml:"streamName"`
	PartitionKey   string    `yaml:"partitionKey" tmpl:"true"` // template; default the event's UID
	Layout         yaml.Node `yaml:"layout"`
	DeDot          bool      `yaml:"deDot"`
	sinks.Batching `yaml:",inline"`
	awsbase.Config `yaml:",inline"`
}

func (c *Config) Build(path string, deps sinks.Deps) (sinks.Sink, error) {
	var errs []error
	if c.StreamName == "" {
		errs = append(errs, fmt.Errorf("%s.streamName: required", path))
	}
	keyText := c.PartitionKey
	if keyText == "" {
		keyText = "{{ .UID }}"
	}
	key, err := sinks.ParseTemplate(keyText)
	if err != nil {
		errs = append(errs, fmt.Errorf("%s.partitionKey: %w", path, err))
	}
	p, err := sinks.NewPayload(path, c.Layout, c.DeDot, deps.MaxPayloadBytes)
	errs = append(errs, err)
	batching, err := c.Batching.CheckMax(path, kinesisMaxRecords)
	errs = append(errs, err)
	cfg, err := c.Load(deps.Ctx, path)
	errs = append(errs, err)
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return &kinesisSink{
		Batching: batching,
		stream:   c.StreamName,
		key:      key,
		payload:  p,
		api:      awsbase.NewJSONAPI(deps.Ctx, cfg, c.Config, awsbase.Service{SigningName: "kinesis", SDKID: "Kinesis", Target: "Kinesis_20131202", JSON: awsbase.JSON11}),
	}, nil
}

type kinesisSink struct {
	sinks.Batching
	stream  string
	key     *sinks.Template
	payload sinks.Payload
	api     *awsbase.JSONAPI
}

// PutRecords' request and answer, as Kinesis's JSON API has them.
type (
	record struct {
		Data         []byte `json:"Data"` // base64 on the wire
		PartitionKey string `json:"PartitionKey"`
	}
	putRecords struct {
		StreamName string   `json:"StreamName"`
		Records    []record `json:"Records"`
	}
	putRecordsAnswer struct {
		FailedRecordCount int                   `json:"FailedRecordCount"`
		Records           []awsbase.EntryResult `json:"Records"`
	}
)

// entry is ev's record and its size.
func (s *kinesisSink) entry(ev *event.EnhancedEvent) (record, int, error) {
	data, err := s.payload.Render(ev)
	if err != nil {
		return record{}, 0, err
	}
	key, err := s.key.Render(ev)
	if err != nil {
		return record{}, 0, fmt.Errorf("partitionKey: %w", err)
	}
	if key == "" {
		key = string(ev.UID)
	}
	if len(key) > kinesisMaxKeyLen {
		key = key[:kinesisMaxKeyLen]
	}
	return record{Data: data, PartitionKey: key}, len(data) + len(key), nil
}

func (s *kinesisSink) Preview(ev *event.EnhancedEvent) (any, error) {
	e, _, err := s.entry(ev)
	if err != nil {
		return nil, err
	}
	return map[string]any{"streamName": s.stream, "partitionKey": e.PartitionKey, "data": sinks.PreviewBody(e.Data)}, nil
}

func (s *kinesisSink) Send(ctx context.Context, ev *event.EnhancedEvent) error {
	return s.SendBatch(ctx, []*event.EnhancedEvent{ev})[0]
}

// SendBatch renders every event and puts them in as few PutRecords calls
// as the request size limit allows; per-record failures come back per event.
func (s *kinesisSink) SendBatch(ctx context.Context, evs []*event.EnhancedEvent) []error {
	return awsbase.BatchEntries(evs, kinesisMaxRecordBytes, kinesisMaxRequestBytes, kinesisMaxRecords, s.entry,
		func(entries []record) ([]error, error) {
			var out putRecordsAnswer
			if err := s.api.Call(ctx, "PutRecords", putRecords{StreamName: s.stream, Records: entries}, &out); err != nil {
				return nil, err
			}
			return awsbase.EntryErrors(len(entries), out.FailedRecordCount, out.Records, awsbase.EntryResult.Codes), nil
		})
}

func (s *kinesisSink) Close() error { return nil }

// Send and Preview build the request with the same code.
var _ sinks.Previewer = (*kinesisSink)(nil)
