package sinks

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/eventide/eventide/pkg/kube/event"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"gopkg.in/yaml.v3"
)

// SQS SendMessageBatch limits.
const (
	sqsMaxEntries      = 10
	sqsMaxRequestBytes = 256 << 10
	sqsMaxIDLen        = 128
)

// SQSConfig sends a message per event to an SQS queue, up to ten per
// SendMessageBatch call. For a FIFO queue (name ending in .fifo) the message
// group and deduplication ids are templates; the defaults keep each
// namespace's events in order and make each occurrence unique.
type SQSConfig struct {
	QueueName              string    `yaml:"queueName"`
	QueueURL               string    `yaml:"queueURL"` // instead of queueName; no lookup
	Layout                 yaml.Node `yaml:"layout"`
	MessageGroupID         string    `yaml:"messageGroupId"`
	MessageDeduplicationID string    `yaml:"messageDeduplicationId"`
	AWSConfig              `yaml:",inline"`
}

const (
	defaultSQSGroup = "{{ .Namespace }}"
	defaultSQSDedup = "{{ .UID }}-{{ .GetCount }}"
)

func (c *SQSConfig) build(path string, _ Deps) (Sink, error) {
	var errs []error
	if (c.QueueName == "") == (c.QueueURL == "") {
		errs = append(errs, fmt.Errorf("%s: set queueName or queueURL (one of them)", path))
	}
	s := &sqsSink{queueName: c.QueueName, queueURL: c.QueueURL}
	s.fifo = strings.HasSuffix(c.QueueName, ".fifo") || strings.HasSuffix(c.QueueURL, ".fifo")
	errs = append(errs, fifoFields(path, "queues (name ending in .fifo)", s.fifo, c.MessageGroupID, c.MessageDeduplicationID, &s.group, &s.dedup))
	p, err := newPayload(path, c.Layout, false)
	errs = append(errs, err)
	s.payload = p
	cfg, err := c.load(path)
	errs = append(errs, err)
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	s.client = sqs.NewFromConfig(cfg, func(o *sqs.Options) { o.BaseEndpoint = c.endpoint() })
	return s, nil
}

type sqsSink struct {
	queueName    string
	fifo         bool
	group, dedup *Template
	payload      payload
	client       *sqs.Client

	mu       sync.Mutex
	queueURL string
}

func (s *sqsSink) MaxBatch() int { return sqsMaxEntries }

func (s *sqsSink) Send(ctx context.Context, ev *event.EnhancedEvent) error {
	return s.SendBatch(ctx, []*event.EnhancedEvent{ev})[0]
}

// url looks the queue URL up once (GetQueueUrl), on first send, so that
// building the sink needs no network.
func (s *sqsSink) url(ctx context.Context) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.queueURL != "" {
		return s.queueURL, nil
	}
	out, err := s.client.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(s.queueName)})
	if err != nil {
		return "", classifyAWS(fmt.Errorf("queue %s: %w", s.queueName, err))
	}
	s.queueURL = aws.ToString(out.QueueUrl)
	return s.queueURL, nil
}

func (s *sqsSink) SendBatch(ctx context.Context, evs []*event.EnhancedEvent) []error {
	queue, err := s.url(ctx)
	if err != nil {
		errs := make([]error, len(evs))
		for i := range errs {
			errs[i] = err
		}
		return errs
	}
	return batchEntries(evs, sqsMaxRequestBytes, sqsMaxRequestBytes, sqsMaxEntries,
		func(ev *event.EnhancedEvent) (types.SendMessageBatchRequestEntry, int, error) {
			var e types.SendMessageBatchRequestEntry
			body, err := s.payload.render(ev)
			if err != nil {
				return e, 0, err
			}
			e.MessageBody = aws.String(string(body))
			if s.fifo {
				r := renderer{ev: ev}
				e.MessageGroupId = aws.String(truncate(r.render("messageGroupId", s.group), sqsMaxIDLen))
				e.MessageDeduplicationId = aws.String(truncate(r.render("messageDeduplicationId", s.dedup), sqsMaxIDLen))
				if r.err != nil {
					return e, 0, r.err
				}
			}
			return e, len(body), nil
		},
		func(entries []types.SendMessageBatchRequestEntry) ([]error, error) {
			for j := range entries {
				entries[j].Id = aws.String(strconv.Itoa(j))
			}
			out, err := s.client.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(queue), Entries: entries})
			if err != nil {
				return nil, classifyAWS(err)
			}
			errs := make([]error, len(entries))
			for _, f := range out.Failed {
				j, err := strconv.Atoi(aws.ToString(f.Id))
				if err != nil || j < 0 || j >= len(errs) {
					continue
				}
				e := fmt.Errorf("%s: %s", aws.ToString(f.Code), aws.ToString(f.Message))
				if f.SenderFault {
					errs[j] = Permanent("http_4xx", e)
				} else {
					errs[j] = Retryable("http_5xx", e, 0)
				}
			}
			return errs, nil
		})
}

func (s *sqsSink) Close() error { return nil }

// fifoFields parses the FIFO group and deduplication id templates (with
// their defaults) of a FIFO queue or topic, and refuses them on a standard
// one.
func fifoFields(path, what string, fifo bool, group, dedup string, groupDst, dedupDst **Template) error {
	if !fifo {
		if group != "" || dedup != "" {
			return fmt.Errorf("%s: messageGroupId and messageDeduplicationId are for FIFO %s", path, what)
		}
		return nil
	}
	return parseFields(path,
		field{"messageGroupId", group, defaultSQSGroup, groupDst},
		field{"messageDeduplicationId", dedup, defaultSQSDedup, dedupDst})
}
