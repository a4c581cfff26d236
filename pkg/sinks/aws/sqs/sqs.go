// Package sqs sends a message per event to an SQS queue (SendMessageBatch).
package sqs

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/eventide/eventide/pkg/sinks"
	awsbase "github.com/eventide/eventide/pkg/sinks/aws/awsbase"

	"github.com/eventide/eventide/pkg/kube/event"

	"gopkg.in/yaml.v3"
)

// SQS SendMessageBatch limits.
const (
	sqsMaxEntries      = 10
	sqsMaxRequestBytes = 256 << 10
)

// Config sends a message per event to an SQS queue, up to ten per
// SendMessageBatch call. For a FIFO queue (name ending in .fifo) the message
// group and deduplication ids are templates; the defaults keep each
// namespace's events in order and make each occurrence unique.
type Config struct {
	QueueName              string    `yaml:"queueName"`
	QueueURL               string    `yaml:"queueURL"` // instead of queueName; no lookup
	Layout                 yaml.Node `yaml:"layout"`
	MessageGroupID         string    `yaml:"messageGroupId" tmpl:"true"`
	MessageDeduplicationID string    `yaml:"messageDeduplicationId" tmpl:"true"`
	sinks.Batching         `yaml:",inline"`
	awsbase.Config         `yaml:",inline"`
}

func (c *Config) Build(path string, deps sinks.Deps) (sinks.Sink, error) {
	var errs []error
	if (c.QueueName == "") == (c.QueueURL == "") {
		errs = append(errs, fmt.Errorf("%s: set queueName or queueURL (one of them)", path))
	}
	s := &sqsSink{queueName: c.QueueName, queueURL: c.QueueURL}
	s.fifo = strings.HasSuffix(c.QueueName, ".fifo") || strings.HasSuffix(c.QueueURL, ".fifo")
	errs = append(errs, awsbase.FIFOFields(path, "queues (name ending in .fifo)", s.fifo, c.MessageGroupID, c.MessageDeduplicationID, &s.group, &s.dedup))
	p, err := sinks.NewPayload(path, c.Layout, false, deps.MaxPayloadBytes)
	errs = append(errs, err)
	s.payload = p
	batching, err := c.Batching.CheckMax(path, sqsMaxEntries)
	errs = append(errs, err)
	cfg, err := c.Load(deps.Ctx, path)
	errs = append(errs, err)
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	s.Batching = batching
	s.api = awsbase.NewJSONAPI(deps.Ctx, cfg, c.Config, awsbase.Service{SigningName: "sqs", SDKID: "SQS", Target: "AmazonSQS", JSON: awsbase.JSON10})
	return s, nil
}

type sqsSink struct {
	sinks.Batching
	queueName    string
	fifo         bool
	group, dedup *sinks.Template
	payload      sinks.Payload
	api          *awsbase.JSONAPI

	mu       sync.Mutex
	queueURL string
}

// SendMessageBatch's request and answer, as SQS's JSON API has them.
type (
	entry struct {
		ID                     string `json:"Id"`
		MessageBody            string `json:"MessageBody"`
		MessageGroupID         string `json:"MessageGroupId,omitempty"`
		MessageDeduplicationID string `json:"MessageDeduplicationId,omitempty"`
	}
	sendMessageBatch struct {
		QueueURL string  `json:"QueueUrl"`
		Entries  []entry `json:"Entries"`
	}
	sendMessageBatchAnswer struct {
		Successful []struct {
			ID               string `json:"Id"`
			MD5OfMessageBody string `json:"MD5OfMessageBody"`
		} `json:"Successful"`
		Failed []struct {
			ID          string `json:"Id"`
			Code        string `json:"Code"`
			Message     string `json:"Message"`
			SenderFault bool   `json:"SenderFault"`
		} `json:"Failed"`
	}
)

// entry is ev's message and its size.
func (s *sqsSink) entry(ev *event.EnhancedEvent) (entry, int, error) {
	var e entry
	body, err := s.payload.Render(ev)
	if err != nil {
		return e, 0, err
	}
	e.MessageBody = string(body)
	if s.fifo {
		r := sinks.Renderer{Event: ev}
		e.MessageGroupID = sinks.Truncate(r.Render("messageGroupId", s.group), awsbase.MaxFIFOIDLen)
		e.MessageDeduplicationID = sinks.Truncate(r.Render("messageDeduplicationId", s.dedup), awsbase.MaxFIFOIDLen)
		if r.Err != nil {
			return e, 0, r.Err
		}
	}
	return e, len(body), nil
}

func (s *sqsSink) Preview(ev *event.EnhancedEvent) (any, error) {
	e, _, err := s.entry(ev)
	if err != nil {
		return nil, err
	}
	return map[string]any{"queueName": s.queueName, "messageBody": sinks.PreviewBody([]byte(e.MessageBody)),
		"messageGroupId": e.MessageGroupID, "messageDeduplicationId": e.MessageDeduplicationID}, nil
}

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
	var out struct {
		QueueURL string `json:"QueueUrl"`
	}
	if err := s.api.Call(ctx, "GetQueueUrl", map[string]string{"QueueName": s.queueName}, &out); err != nil {
		return "", fmt.Errorf("queue %s: %w", s.queueName, err)
	}
	if out.QueueURL == "" {
		return "", sinks.Retryable(sinks.ClassOther, fmt.Errorf("queue %s: GetQueueUrl answered no URL", s.queueName), 0)
	}
	s.queueURL = out.QueueURL
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
	return awsbase.BatchEntries(evs, sqsMaxRequestBytes, sqsMaxRequestBytes, sqsMaxEntries, s.entry,
		func(entries []entry) ([]error, error) {
			for j := range entries {
				entries[j].ID = strconv.Itoa(j)
			}
			var out sendMessageBatchAnswer
			if err := s.api.Call(ctx, "SendMessageBatch", sendMessageBatch{QueueURL: queue, Entries: entries}, &out); err != nil {
				return nil, err
			}
			return batchResults(entries, &out), nil
		})
}

// batchResults is one error per entry sent: delivered only when the
// answer lists its Id as successful (and not as failed) with the MD5 of
// the body sent (as the SDK checks); an entry the answer does not account
// for, or accounts for twice, is retried (failed entries with Ids that
// were not sent cannot be matched to any).
func batchResults(entries []entry, out *sendMessageBatchAnswer) []error {
	n := len(entries)
	errs := make([]error, n)
	ok := make([]bool, n)
	index := func(id string) (int, bool) {
		j, err := strconv.Atoi(id)
		return j, err == nil && j >= 0 && j < n && strconv.Itoa(j) == id
	}
	for _, e := range out.Successful {
		j, known := index(e.ID)
		if !known {
			continue
		}
		if sum := md5.Sum([]byte(entries[j].MessageBody)); e.MD5OfMessageBody != "" && e.MD5OfMessageBody != hex.EncodeToString(sum[:]) {
			errs[j] = sinks.Retryable(sinks.ClassOther, fmt.Errorf("SendMessageBatch: the MD5 of entry %d's body does not match what was sent", j), 0)
			continue
		}
		ok[j] = true
	}
	for _, f := range out.Failed {
		j, known := index(f.ID)
		if !known {
			continue
		}
		ok[j] = false
		e := fmt.Errorf("%s: %s", f.Code, f.Message)
		if f.SenderFault {
			errs[j] = sinks.Permanent(sinks.ClassHTTP4xx, e)
		} else {
			errs[j] = sinks.Retryable(sinks.ClassHTTP5xx, e, 0)
		}
	}
	for j := range errs {
		if errs[j] == nil && !ok[j] {
			errs[j] = sinks.Retryable(sinks.ClassOther, fmt.Errorf("SendMessageBatch answered neither success nor failure for entry %d (%d successful, %d failed listed for %d sent)",
				j, len(out.Successful), len(out.Failed), n), 0)
		}
	}
	return errs
}

func (s *sqsSink) Close() error { return nil }

// Send and Preview build the request with the same code.
var _ sinks.Previewer = (*sqsSink)(nil)
