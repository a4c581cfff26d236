// Package eventbridge puts an event per Kubernetes event on an EventBridge bus.
package eventbridge

import (
	"context"
	"errors"
	"fmt"

	"github.com/eventide/eventide/pkg/sinks"
	awsbase "github.com/eventide/eventide/pkg/sinks/aws/awsbase"

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

// Config puts an event per Kubernetes event on an EventBridge bus,
// up to ten per PutEvents call. details is the event's detail, a layout
// (default: the whole enriched event).
type Config struct {
	DetailType     string    `yaml:"detailType" tmpl:"true"`
	Source         string    `yaml:"source" tmpl:"true"`
	EventBusName   string    `yaml:"eventBusName"`
	Details        yaml.Node `yaml:"details"`
	sinks.Batching `yaml:",inline"`
	awsbase.Config `yaml:",inline"`
}

func (c *Config) Build(path string, deps sinks.Deps) (sinks.Sink, error) {
	var errs []error
	s := &eventBridgeSink{bus: c.EventBusName}
	errs = append(errs, sinks.ParseFields(path,
		sinks.Field("detailType", c.DetailType, "Kubernetes Event {{ .Type }}", &s.detailType),
		sinks.Field("source", c.Source, "eventide", &s.source)))
	var err error
	if c.Details.Kind != 0 {
		s.details, err = sinks.ParseLayout(path+".details", &c.Details)
		errs = append(errs, err)
	}
	batching, err := c.Batching.CheckMax(path, eventBridgeMaxEntries)
	errs = append(errs, err)
	cfg, err := c.Load(deps.Ctx, path)
	errs = append(errs, err)
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	s.Batching = batching
	s.client = eventbridge.NewFromConfig(cfg, func(o *eventbridge.Options) { o.BaseEndpoint = c.BaseEndpoint() })
	return s, nil
}

type eventBridgeSink struct {
	sinks.Batching
	bus                string
	detailType, source *sinks.Template
	details            *sinks.Layout // nil: the whole event
	client             *eventbridge.Client
}

func (s *eventBridgeSink) Send(ctx context.Context, ev *event.EnhancedEvent) error {
	return s.SendBatch(ctx, []*event.EnhancedEvent{ev})[0]
}

// entry is ev's entry and its size.
func (s *eventBridgeSink) entry(ev *event.EnhancedEvent) (types.PutEventsRequestEntry, int, error) {
	r := sinks.Renderer{Event: ev}
	e := types.PutEventsRequestEntry{
		DetailType: aws.String(r.Render("detailType", s.detailType)),
		Source:     aws.String(r.Render("source", s.source)),
		Time:       aws.Time(ev.GetLastTime()),
	}
	if s.bus != "" {
		e.EventBusName = aws.String(s.bus)
	}
	if r.Err != nil {
		return e, 0, r.Err
	}
	detail, err := renderDetails(s.details, ev)
	if err != nil {
		return e, 0, fmt.Errorf("details%w", err)
	}
	e.Detail = aws.String(string(detail))
	// EventBridge counts an entry's size as its strings together.
	return e, len(*e.DetailType) + len(*e.Source) + len(detail) + len(s.bus), nil
}

func (s *eventBridgeSink) Preview(ev *event.EnhancedEvent) (any, error) {
	e, _, err := s.entry(ev)
	if err != nil {
		return nil, err
	}
	return map[string]any{"eventBusName": e.EventBusName, "source": e.Source, "detailType": e.DetailType, "time": e.Time,
		"detail": sinks.PreviewBody([]byte(aws.ToString(e.Detail)))}, nil
}

func (s *eventBridgeSink) SendBatch(ctx context.Context, evs []*event.EnhancedEvent) []error {
	return awsbase.BatchEntries(evs, eventBridgeMaxRequestBytes, eventBridgeMaxRequestBytes, eventBridgeMaxEntries, s.entry,
		func(entries []types.PutEventsRequestEntry) ([]error, error) {
			out, err := s.client.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: entries})
			if err != nil {
				return nil, awsbase.Classify(err)
			}
			return awsbase.EntryErrors(len(entries), int(out.FailedEntryCount), out.Entries, func(e types.PutEventsResultEntry) (*string, *string) {
				return e.ErrorCode, e.ErrorMessage
			}), nil
		})
}

func (s *eventBridgeSink) Close() error { return nil }

func renderDetails(l *sinks.Layout, ev *event.EnhancedEvent) ([]byte, error) {
	if l == nil {
		return ev.ToJSON()
	}
	return l.Render(ev)
}

// Send and Preview build the request with the same code.
var _ sinks.Previewer = (*eventBridgeSink)(nil)
