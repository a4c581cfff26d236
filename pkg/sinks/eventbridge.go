package sinks

import (
	"context"
	"errors"
	"fmt"

	"github.com/eventide/eventide/pkg/kube/event"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"gopkg.in/yaml.v3"
)

// EventBridge PutEvents limits.
const (
	eventBridgeMaxEntries      = 10
	eventBridgeMaxRequestBytes = 256 << 10
)

// EventBridgeConfig puts an event per Kubernetes event on an EventBridge bus,
// up to ten per PutEvents call. details is the event's detail, a layout
// (default: the whole enriched event).
type EventBridgeConfig struct {
	DetailType   string    `yaml:"detailType"`
	Source       string    `yaml:"source"`
	EventBusName string    `yaml:"eventBusName"`
	Details      yaml.Node `yaml:"details"`
	AWSConfig    `yaml:",inline"`
}

func (c *EventBridgeConfig) build(path string, _ Deps) (Sink, error) {
	var errs []error
	s := &eventBridgeSink{bus: c.EventBusName}
	errs = append(errs, parseFields(path,
		field{"detailType", c.DetailType, "Kubernetes Event {{ .Type }}", &s.detailType},
		field{"source", c.Source, "eventide", &s.source}))
	var err error
	if c.Details.Kind != 0 {
		s.details.layout, err = ParseLayout(path+".details", &c.Details)
		errs = append(errs, err)
	}
	cfg, err := c.load(path)
	errs = append(errs, err)
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	s.client = eventbridge.NewFromConfig(cfg, func(o *eventbridge.Options) { o.BaseEndpoint = c.endpoint() })
	return s, nil
}

type eventBridgeSink struct {
	bus                string
	detailType, source *Template
	details            payload
	client             *eventbridge.Client
}

func (s *eventBridgeSink) MaxBatch() int { return eventBridgeMaxEntries }

func (s *eventBridgeSink) Send(ctx context.Context, ev *event.EnhancedEvent) error {
	return s.SendBatch(ctx, []*event.EnhancedEvent{ev})[0]
}

func (s *eventBridgeSink) SendBatch(ctx context.Context, evs []*event.EnhancedEvent) []error {
	return batchEntries(evs, eventBridgeMaxRequestBytes, eventBridgeMaxRequestBytes, eventBridgeMaxEntries,
		func(ev *event.EnhancedEvent) (types.PutEventsRequestEntry, int, error) {
			r := renderer{ev: ev}
			e := types.PutEventsRequestEntry{
				DetailType: aws.String(r.render("detailType", s.detailType)),
				Source:     aws.String(r.render("source", s.source)),
				Time:       aws.Time(ev.GetLastTime()),
			}
			if s.bus != "" {
				e.EventBusName = aws.String(s.bus)
			}
			if r.err != nil {
				return e, 0, r.err
			}
			detail, err := s.details.render(ev)
			if err != nil {
				return e, 0, fmt.Errorf("details%w", err)
			}
			e.Detail = aws.String(string(detail))
			// EventBridge counts an entry's size as its strings together.
			return e, len(*e.DetailType) + len(*e.Source) + len(detail) + len(s.bus), nil
		},
		func(entries []types.PutEventsRequestEntry) ([]error, error) {
			out, err := s.client.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: entries})
			if err != nil {
				return nil, classifyAWS(err)
			}
			return entryErrors(len(entries), out.Entries, func(e types.PutEventsResultEntry) (*string, *string) {
				return e.ErrorCode, e.ErrorMessage
			}), nil
		})
}

func (s *eventBridgeSink) Close() error { return nil }
