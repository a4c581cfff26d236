package sinks

import (
	"context"
	"errors"
	"fmt"

	"github.com/eventide/eventide/pkg/kube/event"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/firehose"
	"github.com/aws/aws-sdk-go-v2/service/firehose/types"
	"gopkg.in/yaml.v3"
)

// Firehose PutRecordBatch limits.
const (
	firehoseMaxRecords      = 500
	firehoseMaxRecordBytes  = 1000 << 10
	firehoseMaxRequestBytes = 4 << 20
)

// FirehoseConfig puts a record per event on a Firehose delivery stream,
// batched with PutRecordBatch. Each record ends with a newline, so the
// objects Firehose writes hold one JSON document per line.
type FirehoseConfig struct {
	DeliveryStreamName string    `yaml:"deliveryStreamName"`
	Layout             yaml.Node `yaml:"layout"`
	DeDot              bool      `yaml:"deDot"`
	AWSConfig          `yaml:",inline"`
}

func (c *FirehoseConfig) build(path string, _ Deps) (Sink, error) {
	var errs []error
	if c.DeliveryStreamName == "" {
		errs = append(errs, fmt.Errorf("%s.deliveryStreamName: required", path))
	}
	p, err := newPayload(path, c.Layout, c.DeDot)
	errs = append(errs, err)
	cfg, err := c.load(path)
	errs = append(errs, err)
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return &firehoseSink{stream: c.DeliveryStreamName, payload: p,
		client: firehose.NewFromConfig(cfg, func(o *firehose.Options) { o.BaseEndpoint = c.endpoint() })}, nil
}

type firehoseSink struct {
	stream  string
	payload payload
	client  *firehose.Client
}

func (s *firehoseSink) MaxBatch() int { return firehoseMaxRecords }

func (s *firehoseSink) Send(ctx context.Context, ev *event.EnhancedEvent) error {
	return s.SendBatch(ctx, []*event.EnhancedEvent{ev})[0]
}

func (s *firehoseSink) SendBatch(ctx context.Context, evs []*event.EnhancedEvent) []error {
	return batchEntries(evs, firehoseMaxRecordBytes, firehoseMaxRequestBytes, firehoseMaxRecords,
		func(ev *event.EnhancedEvent) (types.Record, int, error) {
			b, err := s.payload.render(ev)
			b = append(b, '\n')
			return types.Record{Data: b}, len(b), err
		},
		func(records []types.Record) ([]error, error) {
			out, err := s.client.PutRecordBatch(ctx, &firehose.PutRecordBatchInput{DeliveryStreamName: aws.String(s.stream), Records: records})
			if err != nil {
				return nil, classifyAWS(err)
			}
			return entryErrors(len(records), out.RequestResponses, func(r types.PutRecordBatchResponseEntry) (*string, *string) {
				return r.ErrorCode, r.ErrorMessage
			}), nil
		})
}

func (s *firehoseSink) Close() error { return nil }

// batchEntries renders evs with render (an entry and its size in the
// request), groups the entries into requests within the count and size
// limits, sends each with put (an error per entry, or one for the whole
// request) and maps every outcome back to its event.
func batchEntries[E any](evs []*event.EnhancedEvent, maxEntry, maxRequest, maxCount int,
	render func(*event.EnhancedEvent) (E, int, error), put func([]E) ([]error, error)) []error {
	errs := make([]error, len(evs))
	var (
		entries []E
		index   []int
		size    int
	)
	flush := func() {
		if len(entries) == 0 {
			return
		}
		perEntry, err := put(entries)
		for j, i := range index {
			switch {
			case err != nil:
				errs[i] = err
			case j < len(perEntry):
				errs[i] = perEntry[j]
			}
		}
		entries, index, size = nil, nil, 0
	}
	for i, ev := range evs {
		e, n, err := render(ev)
		if err != nil {
			errs[i] = err
			continue
		}
		if n > maxEntry {
			errs[i] = Permanent("too_large", fmt.Errorf("entry of %d bytes is over the %d-byte limit", n, maxEntry))
			continue
		}
		if size+n > maxRequest || len(entries) == maxCount {
			flush()
		}
		entries = append(entries, e)
		index = append(index, i)
		size += n
	}
	flush()
	return errs
}
