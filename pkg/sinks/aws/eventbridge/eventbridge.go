// Package eventbridge puts an event per Kubernetes event on an EventBridge bus.
package eventbridge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/eventide/eventide/pkg/sinks"
	awsbase "github.com/eventide/eventide/pkg/sinks/aws/awsbase"

	"github.com/eventide/eventide/pkg/kube/event"

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
	s.api = awsbase.NewJSONAPI(deps.Ctx, cfg, c.Config, awsbase.Service{SigningName: "events", SDKID: "EventBridge", Target: "AWSEvents", JSON: awsbase.JSON11})
	return s, nil
}

type eventBridgeSink struct {
	sinks.Batching
	bus                string
	detailType, source *sinks.Template
	details            *sinks.Layout // nil: the whole event
	api                *awsbase.JSONAPI
}

// PutEvents' request and answer, as EventBridge's JSON API has them.
type (
	entry struct {
		Source       string      `json:"Source"`
		DetailType   string      `json:"DetailType"`
		Detail       string      `json:"Detail"`
		EventBusName string      `json:"EventBusName,omitempty"`
		Time         json.Number `json:"Time"` // epoch seconds
	}
	putEvents struct {
		Entries []entry `json:"Entries"`
	}
	putEventsAnswer struct {
		FailedEntryCount int                   `json:"FailedEntryCount"`
		Entries          []awsbase.EntryResult `json:"Entries"`
	}
)

func (s *eventBridgeSink) Send(ctx context.Context, ev *event.EnhancedEvent) error {
	return s.SendBatch(ctx, []*event.EnhancedEvent{ev})[0]
}

// entry is ev's entry and its size.
func (s *eventBridgeSink) entry(ev *event.EnhancedEvent) (entry, int, error) {
	r := sinks.Renderer{Event: ev}
	e := entry{
		DetailType:   r.Render("detailType", s.detailType),
		Source:       r.Render("source", s.source),
		Time:         json.Number(strconv.FormatFloat(float64(ev.GetLastTime().UnixMilli())/1000, 'f', -1, 64)),
		EventBusName: s.bus,
	}
	if r.Err != nil {
		return e, 0, r.Err
	}
	detail, err := renderDetails(s.details, ev)
	if err != nil {
		return e, 0, fmt.Errorf("details%w", err)
	}
	e.Detail = string(detail)
	// EventBridge counts an entry's size as its strings together.
	return e, len(e.DetailType) + len(e.Source) + len(detail) + len(s.bus), nil
}

func (s *eventBridgeSink) Preview(ev *event.EnhancedEvent) (any, error) {
	e, _, err := s.entry(ev)
	if err != nil {
		return nil, err
	}
	return map[string]any{"eventBusName": e.EventBusName, "source": e.Source, "detailType": e.DetailType,
		"time": ev.GetLastTime(), "detail": sinks.PreviewBody([]byte(e.Detail))}, nil
}

func (s *eventBridgeSink) SendBatch(ctx context.Context, evs []*event.EnhancedEvent) []error {
	return awsbase.BatchEntries(evs, eventBridgeMaxRequestBytes, eventBridgeMaxRequestBytes, eventBridgeMaxEntries, s.entry,
		func(entries []entry) ([]error, error) {
			var out putEventsAnswer
			if err := s.api.Call(ctx, "PutEvents", putEvents{Entries: entries}, &out); err != nil {
				return nil, err
			}
			return awsbase.EntryErrors(len(entries), out.FailedEntryCount, out.Entries, awsbase.EntryResult.Codes), nil
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
