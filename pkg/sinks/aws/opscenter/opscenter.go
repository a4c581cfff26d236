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

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/ssm/types"
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
	s.client = ssm.NewFromConfig(cfg, func(o *ssm.Options) { o.BaseEndpoint = c.BaseEndpoint() })
	return s, nil
}

type opsCenterSink struct {
	title, description, source, category, severity, priority, dedup *sinks.Template
	data, tags                                                      *sinks.TemplateMap
	notifications, related                                          []string
	client                                                          *ssm.Client
}

func (s *opsCenterSink) Send(ctx context.Context, ev *event.EnhancedEvent) error {
	in, err := s.input(ev)
	if err != nil {
		return err
	}
	_, err = s.client.CreateOpsItem(ctx, in)
	return awsbase.Classify(err)
}

func (s *opsCenterSink) Preview(ev *event.EnhancedEvent) (any, error) { return s.input(ev) }

// input is the OpsItem ev creates.
func (s *opsCenterSink) input(ev *event.EnhancedEvent) (*ssm.CreateOpsItemInput, error) {
	r := sinks.Renderer{Event: ev}
	in := &ssm.CreateOpsItemInput{
		Title:       aws.String(sinks.TruncateRunes(r.Render("title", s.title), opsMaxTitle)),
		Description: aws.String(sinks.TruncateRunes(r.Render("description", s.description), opsMaxDescription)),
		Source:      aws.String(sinks.TruncateRunes(r.Render("source", s.source), opsMaxSource)),
	}
	if v := r.Render("category", s.category); v != "" {
		in.Category = aws.String(v)
	}
	if v := r.Render("severity", s.severity); v != "" {
		in.Severity = aws.String(v)
	}
	if p, err := strconv.Atoi(strings.TrimSpace(r.Render("priority", s.priority))); err == nil && p >= 1 && p <= 5 {
		in.Priority = aws.Int32(int32(p))
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
	if *in.Description == "" {
		in.Description = in.Title // the API requires one
	}
	in.OperationalData = map[string]types.OpsItemDataValue{}
	for _, kv := range data {
		in.OperationalData[kv[0]] = types.OpsItemDataValue{Type: types.OpsItemDataTypeSearchableString, Value: aws.String(kv[1])}
	}
	if dedup != "" {
		b, _ := json.Marshal(map[string]string{"dedupString": dedup})
		in.OperationalData["/aws/dedup"] = types.OpsItemDataValue{Type: types.OpsItemDataTypeSearchableString, Value: aws.String(string(b))}
	}
	for _, arn := range s.notifications {
		in.Notifications = append(in.Notifications, types.OpsItemNotification{Arn: aws.String(arn)})
	}
	for _, id := range s.related {
		in.RelatedOpsItems = append(in.RelatedOpsItems, types.RelatedOpsItem{OpsItemId: aws.String(id)})
	}
	for _, kv := range tags {
		in.Tags = append(in.Tags, types.Tag{Key: aws.String(kv[0]), Value: aws.String(kv[1])})
	}
	return in, nil
}

func (s *opsCenterSink) Close() error { return nil }

// Send and Preview build the request with the same code.
var _ sinks.Previewer = (*opsCenterSink)(nil)
