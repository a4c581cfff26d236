// Package opscenter creates an AWS Systems Manager OpsItem per event.
package opscenter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/eventide/eventide/pkg/sinks"
	awsbase "github.com/eventide/eventide/pkg/sinks/aws/awsbase"

	"github.com/eventide/eventide/pkg/kube/event"
)

// CreateOpsItem limits.
const (
	opsMaxTitle       = 1024
	opsMaxDescription = 2048
	opsMaxSource      = 128
)

// Config creates an AWS Systems Manager OpsItem per event, with the
// keys kubernetes-event-exporter had. Every string is a template. dedupString
// (default: kind/namespace/name/reason) goes into OpsCenter's /aws/dedup, so
// repeats of an event do not open new OpsItems.
type Config struct {
	Title           string            `yaml:"title" tmpl:"true"`
	Description     string            `yaml:"description" tmpl:"true"`
	Source          string            `yaml:"source" tmpl:"true"`
	Category        string            `yaml:"category" tmpl:"true"`
	Severity        string            `yaml:"severity" tmpl:"true"`
	Priority        string            `yaml:"priority" tmpl:"true"` // renders to 1-5
	Notifications   []string          `yaml:"notifications"`
	OperationalData map[string]string `yaml:"operationalData" tmpl:"true"`
	RelatedOpsItems []string          `yaml:"relatedOpsItems"`
	Tags            map[string]string `yaml:"tags" tmpl:"true"`
	DedupString     string            `yaml:"dedupString" tmpl:"true"`
	awsbase.Config  `yaml:",inline"`
}

func (c *Config) Build(path string, deps sinks.Deps) (sinks.Sink, error) {
	var errs []error
	s := &opsCenterSink{notifications: c.Notifications, related: c.RelatedOpsItems}
	errs = append(errs, sinks.ParseFields(path,
		sinks.Field("title", c.Title, sinks.DefaultAlertMessage, &s.title),
		sinks.Field("description", c.Description, "{{ .Message }}", &s.description),
		sinks.Field("source", c.Source, "eventide", &s.source),
		sinks.Field("category", c.Category, "", &s.category),
		sinks.Field("severity", c.Severity, "", &s.severity),
		sinks.Field("priority", c.Priority, "", &s.priority),
		sinks.Field("dedupString", c.DedupString, sinks.DefaultAlertAlias, &s.dedup)))
	for k := range c.OperationalData {
		if strings.HasPrefix(strings.ToLower(k), "aws") || strings.HasPrefix(k, "/aws") {
			errs = append(errs, fmt.Errorf("%s.operationalData.%s: keys starting with aws are reserved by AWS", path, k))
		}
	}
	var err error
	s.data, err = sinks.ParseTemplateMap(path+".operationalData", c.OperationalData)
	errs = append(errs, err)
	s.tags, err = sinks.ParseTemplateMap(path+".tags", c.Tags)
	errs = append(errs, err)
	cfg, err := c.Load(deps.Ctx, path)
	errs = append(errs, err)
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	s.api = awsbase.NewJSONAPI(deps.Ctx, cfg, c.Config, awsbase.Service{SigningName: "ssm", SDKID: "SSM", Target: "AmazonSSM", JSON: awsbase.JSON11})
	return s, nil
}

type opsCenterSink struct {
	title, description, source, category, severity, priority, dedup *sinks.Template
	data, tags                                                      *sinks.TemplateMap
	notifications, related                                          []string
	api                                                             *awsbase.JSONAPI
}

// createOpsItem is the CreateOpsItem request, as SSM's JSON API takes it.
type createOpsItem struct {
	Title           string              `json:"Title"`
	Description     string              `json:"Description"`
	Source          string              `json:"Source"`
	Category        string              `json:"Category,omitempty"`
	Severity        string              `json:"Severity,omitempty"`
	Priority        int                 `json:"Priority,omitempty"`
	OperationalData map[string]dataItem `json:"OperationalData,omitempty"`
	Notifications   []arn               `json:"Notifications,omitempty"`
	RelatedOpsItems []relatedItem       `json:"RelatedOpsItems,omitempty"`
	Tags            []tag               `json:"Tags,omitempty"`
}

type (
	dataItem struct {
		Type  string `json:"Type"`
		Value string `json:"Value"`
	}
	arn struct {
		Arn string `json:"Arn"`
	}
	relatedItem struct {
		OpsItemID string `json:"OpsItemId"`
	}
	tag struct {
		Key   string `json:"Key"`
		Value string `json:"Value"`
	}
)

// searchable is the OperationalData type OpsCenter's search reads.
const searchable = "SearchableString"

func (s *opsCenterSink) Send(ctx context.Context, ev *event.EnhancedEvent) error {
	in, err := s.input(ev)
	if err != nil {
		return err
	}
	return s.api.Call(ctx, "CreateOpsItem", in, nil)
}

func (s *opsCenterSink) Preview(ev *event.EnhancedEvent) (any, error) { return s.input(ev) }

// input is the OpsItem ev creates.
func (s *opsCenterSink) input(ev *event.EnhancedEvent) (*createOpsItem, error) {
	r := sinks.Renderer{Event: ev}
	in := &createOpsItem{
		Title:       sinks.TruncateRunes(r.Render("title", s.title), opsMaxTitle),
		Description: sinks.TruncateRunes(r.Render("description", s.description), opsMaxDescription),
		Source:      sinks.TruncateRunes(r.Render("source", s.source), opsMaxSource),
		Category:    r.Render("category", s.category),
		Severity:    r.Render("severity", s.severity),
	}
	if p, err := strconv.Atoi(strings.TrimSpace(r.Render("priority", s.priority))); err == nil && p >= 1 && p <= 5 {
		in.Priority = p
	}
	dedup := r.Render("dedupString", s.dedup)
	data, err := s.data.Render(ev)
	if err != nil && r.Err == nil {
		r.Err = fmt.Errorf("operationalData.%w", err)
	}
	tags, err := s.tags.Render(ev)
	if err != nil && r.Err == nil {
		r.Err = fmt.Errorf("tags.%w", err)
	}
	if r.Err != nil {
		return nil, r.Err
	}
	if in.Description == "" {
		in.Description = in.Title // the API requires one
	}
	in.OperationalData = map[string]dataItem{}
	for _, kv := range data {
		in.OperationalData[kv[0]] = dataItem{Type: searchable, Value: kv[1]}
	}
	if dedup != "" {
		b, _ := json.Marshal(map[string]string{"dedupString": dedup})
		in.OperationalData["/aws/dedup"] = dataItem{Type: searchable, Value: string(b)}
	}
	for _, a := range s.notifications {
		in.Notifications = append(in.Notifications, arn{Arn: a})
	}
	for _, id := range s.related {
		in.RelatedOpsItems = append(in.RelatedOpsItems, relatedItem{OpsItemID: id})
	}
	for _, kv := range tags {
		in.Tags = append(in.Tags, tag{Key: kv[0], Value: kv[1]})
	}
	return in, nil
}

func (s *opsCenterSink) Close() error { return nil }

// Send and Preview build the request with the same code.
var _ sinks.Previewer = (*opsCenterSink)(nil)
