// Package pubsub publishes a message per event to a Google Cloud Pub/Sub
// topic with the official client (cloud.google.com/go/pubsub/v2), which
// batches publishes itself. Credentials are the client's usual ones
// (workload identity, GOOGLE_APPLICATION_CREDENTIALS) or credentialsFile;
// PUBSUB_EMULATOR_HOST points it at an emulator.
//
// The client is made on the first send, not at load, so `eventide
// validate` needs no credentials.
package pubsub

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"google.golang.org/api/option"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"gopkg.in/yaml.v3"

	"github.com/eventide/eventide/pkg/kube/event"
	"github.com/eventide/eventide/pkg/sinks"
)

// batchDefaults: a publish call per 100 messages, sent at once (Pub/Sub
// takes up to 1000 per call).
var batchDefaults = sinks.BatchDefaults{Size: 100, Max: 1000}

// Config keeps the old keys (gcloud_project_id, topic, create_topic).
type Config struct {
	ProjectID   string `yaml:"gcloud_project_id"`
	Topic       string `yaml:"topic"`
	CreateTopic bool   `yaml:"create_topic"`
	// CredentialsFile is a service account key file; default the client's
	// own lookup (workload identity, GOOGLE_APPLICATION_CREDENTIALS).
	CredentialsFile string `yaml:"credentialsFile"`
	// OrderingKey (template) turns on ordered delivery per key, for
	// example "{{ .InvolvedObject.UID }}"; the subscription must enable
	// message ordering too.
	OrderingKey string            `yaml:"orderingKey" tmpl:"true"`
	Attributes  map[string]string `yaml:"attributes" tmpl:"true"`
	Layout      yaml.Node         `yaml:"layout"`
	DeDot       bool              `yaml:"deDot"`
	// batchSize (default 100) and flushInterval (default 0: what is
	// queued goes at once).
	sinks.Batching `yaml:",inline"`
}

func (c *Config) Build(path string, deps sinks.Deps) (sinks.Sink, error) {
	var errs []error
	if c.ProjectID == "" {
		errs = append(errs, fmt.Errorf("%s.gcloud_project_id: required", path))
	}
	if c.Topic == "" {
		errs = append(errs, fmt.Errorf("%s.topic: required", path))
	}
	s := &pubsubSink{project: c.ProjectID, topic: c.Topic, create: c.CreateTopic, credentials: c.CredentialsFile}
	if c.OrderingKey != "" {
		t, err := sinks.ParseTemplate(c.OrderingKey)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s.orderingKey: %w", path, err))
		}
		s.orderingKey = t
	}
	attrs, err := sinks.ParseTemplateMap(path+".attributes", c.Attributes)
	errs = append(errs, err)
	s.attrs = attrs
	p, err := sinks.NewPayload(path, c.Layout, c.DeDot, deps.MaxPayloadBytes)
	errs = append(errs, err)
	s.payload = p
	s.Batching, err = c.Batching.CheckWith(path, batchDefaults)
	errs = append(errs, err)
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return s, nil
}

type pubsubSink struct {
	project, topic, credentials string
	create                      bool
	orderingKey                 *sinks.Template
	attrs                       *sinks.TemplateMap
	payload                     sinks.Payload
	sinks.Batching

	mu        sync.Mutex
	client    *pubsub.Client
	publisher *pubsub.Publisher
}

func (s *pubsubSink) Send(ctx context.Context, ev *event.EnhancedEvent) error {
	return s.SendBatch(ctx, []*event.EnhancedEvent{ev})[0]
}

// SendBatch publishes every event and waits for each message's ID: one
// error per event.
func (s *pubsubSink) SendBatch(ctx context.Context, evs []*event.EnhancedEvent) []error {
	errs := make([]error, len(evs))
	pub, err := s.connect(ctx)
	if err != nil {
		for i := range errs {
			errs[i] = err
		}
		return errs
	}
	results := make([]*pubsub.PublishResult, len(evs))
	keys := make([]string, len(evs))
	for i, ev := range evs {
		msg, err := s.message(ev)
		if err != nil {
			errs[i] = err
			continue
		}
		keys[i] = msg.OrderingKey
		results[i] = pub.Publish(ctx, msg)
	}
	for i, r := range results {
		if r == nil {
			continue
		}
		if _, err := r.Get(ctx); err != nil {
			errs[i] = classify(err)
			if keys[i] != "" {
				pub.ResumePublish(keys[i]) // a failed key is paused until resumed
			}
		}
	}
	return errs
}

// connect makes the client and publisher once, creating the topic first
// when create_topic is set.
func (s *pubsubSink) connect(ctx context.Context) (*pubsub.Publisher, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.publisher != nil {
		return s.publisher, nil
	}
	var opts []option.ClientOption
	if s.credentials != "" {
		opts = append(opts, option.WithCredentialsFile(s.credentials)) //nolint:staticcheck // a key file the user names
	}
	client, err := pubsub.NewClient(ctx, s.project, opts...)
	if err != nil {
		return nil, sinks.Retryable(sinks.ClassOther, fmt.Errorf("pubsub client: %w", err), 0)
	}
	name := fmt.Sprintf("projects/%s/topics/%s", s.project, s.topic)
	if s.create {
		_, err := client.TopicAdminClient.CreateTopic(ctx, &pubsubpb.Topic{Name: name})
		if err != nil && status.Code(err) != codes.AlreadyExists {
			client.Close()
			return nil, classify(fmt.Errorf("create topic: %w", err))
		}
	}
	s.client = client
	s.publisher = client.Publisher(name)
	s.publisher.EnableMessageOrdering = s.orderingKey != nil
	return s.publisher, nil
}

// message is ev's message: the payload, attributes and ordering key.
func (s *pubsubSink) message(ev *event.EnhancedEvent) (*pubsub.Message, error) {
	data, err := s.payload.Render(ev)
	if err != nil {
		return nil, err
	}
	msg := &pubsub.Message{Data: data}
	attrs, err := s.attrs.Render(ev)
	if err != nil {
		return nil, fmt.Errorf("attributes.%w", err)
	}
	for _, kv := range attrs {
		if msg.Attributes == nil {
			msg.Attributes = map[string]string{}
		}
		msg.Attributes[kv[0]] = kv[1]
	}
	if s.orderingKey != nil {
		if msg.OrderingKey, err = s.orderingKey.Render(ev); err != nil {
			return nil, fmt.Errorf("orderingKey: %w", err)
		}
	}
	return msg, nil
}

// classify: unavailable, deadline, exhausted and aborted are retried; a
// missing topic, a denied permission or an invalid message are not.
func classify(err error) error {
	if cut, ok := sinks.CutShort(err); ok {
		return cut
	}
	switch status.Code(err) {
	case codes.NotFound, codes.PermissionDenied, codes.InvalidArgument, codes.Unauthenticated, codes.FailedPrecondition:
		return sinks.Permanent(sinks.ClassRejected, err)
	case codes.ResourceExhausted:
		return sinks.Retryable(sinks.ClassRateLimited, err, 0)
	case codes.DeadlineExceeded:
		return sinks.Retryable(sinks.ClassTimeout, err, 0)
	}
	return sinks.Retryable(sinks.ClassNetwork, err, 0)
}

func (s *pubsubSink) Preview(ev *event.EnhancedEvent) (any, error) {
	msg, err := s.message(ev)
	if err != nil {
		return nil, err
	}
	return map[string]any{"topic": s.topic, "data": sinks.PreviewBody(msg.Data), "attributes": msg.Attributes, "orderingKey": msg.OrderingKey}, nil
}

func (s *pubsubSink) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.publisher != nil {
		s.publisher.Stop()
	}
	if s.client != nil {
		return s.client.Close()
	}
	return nil
}

// Send and Preview build the message with the same code.
var (
	_ sinks.Previewer = (*pubsubSink)(nil)
	_ sinks.BatchSink = (*pubsubSink)(nil)
)
