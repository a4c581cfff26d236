package sinks

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"gopkg.in/yaml.v3"

	"github.com/eventide/eventide/pkg/kube"
)

// Kinesis PutRecords limits.
const (
	kinesisMaxRecords      = 500
	kinesisMaxRecordBytes  = 1 << 20 // data + partition key
	kinesisMaxRequestBytes = 5 << 20
	kinesisMaxKeyLen       = 256
)

// KinesisConfig puts a record per event on a Kinesis data stream, batched
// with PutRecords.
type KinesisConfig struct {
	StreamName   string    `yaml:"streamName"`
	PartitionKey string    `yaml:"partitionKey"` // template; default the event's UID
	Layout       yaml.Node `yaml:"layout"`
	DeDot        bool      `yaml:"deDot"`
	AWSConfig    `yaml:",inline"`
}

func (c *KinesisConfig) build(path string, _ Deps) (Sink, error) {
	var errs []error
	if c.StreamName == "" {
		errs = append(errs, fmt.Errorf("%s.streamName: required", path))
	}
	keyText := c.PartitionKey
	if keyText == "" {
		keyText = "{{ .UID }}"
	}
	key, err := ParseTemplate(keyText)
	if err != nil {
		errs = append(errs, fmt.Errorf("%s.partitionKey: %w", path, err))
	}
	p, err := newPayload(path, c.Layout, c.DeDot)
	errs = append(errs, err)
	cfg, err := c.load(path)
	errs = append(errs, err)
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return &kinesisSink{
		stream:  c.StreamName,
		key:     key,
		payload: p,
		client:  kinesis.NewFromConfig(cfg, func(o *kinesis.Options) { o.BaseEndpoint = c.endpoint() }),
	}, nil
}

type kinesisSink struct {
	stream  string
	key     *Template
	payload payload
	client  *kinesis.Client
}

func (s *kinesisSink) MaxBatch() int { return kinesisMaxRecords }

func (s *kinesisSink) Send(ctx context.Context, ev *kube.EnhancedEvent) error {
	return s.SendBatch(ctx, []*kube.EnhancedEvent{ev})[0]
}

// SendBatch renders every event and puts them in as few PutRecords calls
// as the request size limit allows; per-record failures come back per event.
func (s *kinesisSink) SendBatch(ctx context.Context, evs []*kube.EnhancedEvent) []error {
	errs := make([]error, len(evs))
	var (
		entries []types.PutRecordsRequestEntry
		index   []int // entries[j] is evs[index[j]]
		size    int
	)
	flush := func() {
		if len(entries) == 0 {
			return
		}
		s.put(ctx, entries, index, errs)
		entries, index, size = nil, nil, 0
	}
	for i, ev := range evs {
		data, err := s.payload.render(ev)
		if err != nil {
			errs[i] = err
			continue
		}
		key, err := s.key.Render(ev)
		if err != nil {
			errs[i] = fmt.Errorf("partitionKey: %w", err)
			continue
		}
		if key == "" {
			key = string(ev.UID)
		}
		if len(key) > kinesisMaxKeyLen {
			key = key[:kinesisMaxKeyLen]
		}
		n := len(data) + len(key)
		if n > kinesisMaxRecordBytes {
			errs[i] = Permanent("too_large", fmt.Errorf("record of %d bytes is over Kinesis's 1 MiB limit", n))
			continue
		}
		if size+n > kinesisMaxRequestBytes {
			flush()
		}
		entries = append(entries, types.PutRecordsRequestEntry{Data: data, PartitionKey: aws.String(key)})
		index = append(index, i)
		size += n
	}
	flush()
	return errs
}

func (s *kinesisSink) put(ctx context.Context, entries []types.PutRecordsRequestEntry, index []int, errs []error) {
	out, err := s.client.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String(s.stream), Records: entries})
	if err != nil {
		err = classifyAWS(err)
		for _, i := range index {
			errs[i] = err
		}
		return
	}
	for j, r := range out.Records {
		if j < len(index) && r.ErrorCode != nil {
			errs[index[j]] = recordError(aws.ToString(r.ErrorCode), aws.ToString(r.ErrorMessage))
		}
	}
}

func (s *kinesisSink) Close() error { return nil }
