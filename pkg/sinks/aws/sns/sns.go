// Package sns publishes a message per event to an SNS topic.
package sns

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/eventide/eventide/pkg/sinks"
	awsbase "github.com/eventide/eventide/pkg/sinks/aws/awsbase"

	"github.com/eventide/eventide/pkg/kube/event"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sns/types"
	"gopkg.in/yaml.v3"
)

const snsMaxSubject = 100

// Config publishes a message per event to an SNS topic. subject and the
// values of messageAttributes are templates; FIFO topics get group and
// deduplication ids from templates as SQS does.
type Config struct {
	TopicARN               string            `yaml:"topicARN"`
	Layout                 yaml.Node         `yaml:"layout"`
	Subject                string            `yaml:"subject" tmpl:"true"`
	MessageAttributes      map[string]string `yaml:"messageAttributes" tmpl:"true"`
	MessageGroupID         string            `yaml:"messageGroupId" tmpl:"true"`
	MessageDeduplicationID string            `yaml:"messageDeduplicationId" tmpl:"true"`
	awsbase.Config         `yaml:",inline"`
}

func (c *Config) Build(path string, deps sinks.Deps) (sinks.Sink, error) {
	var errs []error
	if c.TopicARN == "" {
		errs = append(errs, fmt.Errorf("%s.topicARN: required", path))
	}
	s := &snsSink{topic: c.TopicARN, fifo: strings.HasSuffix(c.TopicARN, ".fifo")}
	errs = append(errs, sinks.ParseFields(path, sinks.Field("subject", c.Subject, "", &s.subject)))
	errs = append(errs, awsbase.FIFOFields(path, "topics (ARN ending in .fifo)", s.fifo, c.MessageGroupID, c.MessageDeduplicationID, &s.group, &s.dedup))
	attrs, err := sinks.ParseTemplateMap(path+".messageAttributes", c.MessageAttributes)
	errs = append(errs, err)
	s.attrs = attrs
	p, err := sinks.NewPayload(path, c.Layout, false, deps.MaxPayloadBytes)
	errs = append(errs, err)
	s.payload = p
	cfg, err := c.Load(deps.Ctx, path)
	errs = append(errs, err)
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	s.client = sns.NewFromConfig(cfg, func(o *sns.Options) { o.BaseEndpoint = c.BaseEndpoint() })
	return s, nil
}

type snsSink struct {
	topic                 string
	fifo                  bool
	subject, group, dedup *sinks.Template
	attrs                 *sinks.TemplateMap
	payload               sinks.Payload
	client                *sns.Client
}

func (s *snsSink) Send(ctx context.Context, ev *event.EnhancedEvent) error {
	in, err := s.input(ev)
	if err != nil {
		return err
	}
	_, err = s.client.Publish(ctx, in)
	return awsbase.Classify(err)
}

func (s *snsSink) Preview(ev *event.EnhancedEvent) (any, error) {
	in, err := s.input(ev)
	if err != nil {
		return nil, err
	}
	return map[string]any{"topicArn": in.TopicArn, "subject": in.Subject, "message": sinks.PreviewBody([]byte(aws.ToString(in.Message))),
		"messageGroupId": in.MessageGroupId, "messageDeduplicationId": in.MessageDeduplicationId, "messageAttributes": in.MessageAttributes}, nil
}

// input is what publishing ev sends.
func (s *snsSink) input(ev *event.EnhancedEvent) (*sns.PublishInput, error) {
	body, err := s.payload.Render(ev)
	if err != nil {
		return nil, err
	}
	r := sinks.Renderer{Event: ev}
	in := &sns.PublishInput{TopicArn: aws.String(s.topic), Message: aws.String(string(body))}
	if subject := snsSubject(r.Render("subject", s.subject)); subject != "" {
		in.Subject = aws.String(subject)
	}
	if s.fifo {
		in.MessageGroupId = aws.String(sinks.Truncate(r.Render("messageGroupId", s.group), awsbase.MaxFIFOIDLen))
		in.MessageDeduplicationId = aws.String(sinks.Truncate(r.Render("messageDeduplicationId", s.dedup), awsbase.MaxFIFOIDLen))
	}
	attrs, err := s.attrs.Render(ev)
	if err != nil && r.Err == nil {
		r.Err = fmt.Errorf("messageAttributes.%w", err)
	}
	if r.Err != nil {
		return nil, r.Err
	}
	for _, kv := range attrs {
		if kv[1] == "" {
			continue // SNS refuses empty attribute values
		}
		if in.MessageAttributes == nil {
			in.MessageAttributes = map[string]types.MessageAttributeValue{}
		}
		in.MessageAttributes[kv[0]] = types.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(kv[1])}
	}
	return in, nil
}

// snsSubject makes a rendered subject acceptable to SNS: printable ASCII,
// one line, at most 100 characters.
func snsSubject(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\n' || r == '\r' || r == '\t':
			b.WriteByte(' ')
		case r >= 0x20 && r < 0x7f:
			b.WriteRune(r)
		}
		if b.Len() == snsMaxSubject {
			break
		}
	}
	return strings.TrimSpace(b.String())
}

func (s *snsSink) Close() error { return nil }

// Send and Preview build the request with the same code.
var _ sinks.Previewer = (*snsSink)(nil)
