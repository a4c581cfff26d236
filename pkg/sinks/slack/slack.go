// Package slack posts a message per event to a Slack channel picked by template.
package slack

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/eventide/eventide/pkg/sinks"

	"github.com/eventide/eventide/pkg/kube/event"

	"github.com/slack-go/slack"
)

// Slack's limits: a message's text, and what eventide cuts an attachment
// field's title and value to (Slack's block limits: longer ones are
// rejected or cut by Slack without saying so).
const (
	slackMaxText       = 40000
	slackMaxFieldTitle = 150
	slackMaxFieldValue = 2000
	// An attachment's footer and author (Slack: "limited to 300
	// characters"), and its title, which Slack sets no documented limit
	// for: eventide cuts it like a field value.
	slackMaxFooter = 300
	slackMaxTitle  = 2000
)

// Config posts a message per event. channel is a template, so the
// pod's owner label can pick the team's channel:
//
//	channel: '{{ with .InvolvedObject.Labels.owner }}#{{ . }}-alerts{{ end }}'
//	fallbackChannel: '#platform-alerts'
type Config struct {
	Token           sinks.Secret      `yaml:"token"`
	Channel         string            `yaml:"channel" tmpl:"true"`
	FallbackChannel string            `yaml:"fallbackChannel" tmpl:"true"` // when channel renders empty
	Message         string            `yaml:"message" tmpl:"true"`
	Color           string            `yaml:"color" tmpl:"true"`
	Footer          string            `yaml:"footer" tmpl:"true"`
	Title           string            `yaml:"title" tmpl:"true"`
	AuthorName      string            `yaml:"author_name" tmpl:"true"`
	Fields          map[string]string `yaml:"fields" tmpl:"true"` // shown in key order
	APIURL          string            `yaml:"apiURL"`             // default https://slack.com/api/
	// ThreadReplies: when a grouped message is edited, the latest event's
	// text is also posted as a reply in its thread.
	ThreadReplies bool `yaml:"threadReplies"`
}

func (c *Config) Build(path string, _ sinks.Deps) (sinks.Sink, error) {
	var errs []error
	if c.Token == "" {
		errs = append(errs, fmt.Errorf("%s.token: required", path))
	}
	if c.Channel == "" && c.FallbackChannel == "" {
		errs = append(errs, fmt.Errorf("%s.channel: required", path))
	}
	s := &slackSink{threadReplies: c.ThreadReplies}
	errs = append(errs, sinks.ParseFields(path,
		sinks.Field("channel", c.Channel, "", &s.channel), sinks.Field("fallbackChannel", c.FallbackChannel, "", &s.fallback),
		sinks.Field("message", c.Message, defaultMessage, &s.message), sinks.Field("color", c.Color, "", &s.color),
		sinks.Field("footer", c.Footer, "", &s.footer), sinks.Field("title", c.Title, "", &s.title),
		sinks.Field("author_name", c.AuthorName, "", &s.author)))
	fields, err := sinks.ParseTemplateMap(path+".fields", c.Fields)
	errs = append(errs, err)
	opts := []slack.Option{slack.OptionHTTPClient(sinks.NewHTTPClient(nil))}
	_, err = sinks.CheckEndpoint(path+".apiURL", c.APIURL, false, sinks.HTTPSOnly) // it gets the bot token
	errs = append(errs, err)
	if c.APIURL != "" {
		u := c.APIURL
		if !strings.HasSuffix(u, "/") {
			u += "/"
		}
		opts = append(opts, slack.OptionAPIURL(u))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	s.fields = fields
	s.client = slack.New(c.Token.Value(), opts...)
	return s, nil
}

// defaultMessage is the event's message; a grouped notification adds the
// group's count and, once the group is quiet, since when.
const defaultMessage = `{{ .Message }}{{ with .Group }} (×{{ .Count }}` +
	`{{ if eq .Status "quiet" }}; none since {{ .LastSeen.UTC.Format "15:04 UTC" }}{{ end }}){{ end }}`

type slackSink struct {
	client                                           *slack.Client
	channel, fallback, message, color, footer, title *sinks.Template
	author                                           *sinks.Template
	fields                                           *sinks.TemplateMap
	threadReplies                                    bool
}

// message is what one event posts: the channel, the text and an
// attachment when any of its parts is set.
type message struct {
	Channel     string             `json:"channel"`
	Text        string             `json:"text"`
	Attachments []slack.Attachment `json:"attachments,omitempty"`
}

func (s *slackSink) compose(ev *event.EnhancedEvent) (message, error) {
	r := sinks.Renderer{Event: ev}
	channel := strings.TrimSpace(r.Render("channel", s.channel))
	if strings.Trim(channel, "#") == "" {
		channel = strings.TrimSpace(r.Render("fallbackChannel", s.fallback))
	}
	text := sinks.TruncateRunes(r.Render("message", s.message), slackMaxText)
	att := slack.Attachment{
		Color:      r.Render("color", s.color),
		Title:      sinks.TruncateRunes(r.Render("title", s.title), slackMaxTitle),
		Footer:     sinks.TruncateRunes(r.Render("footer", s.footer), slackMaxFooter),
		AuthorName: sinks.TruncateRunes(r.Render("author_name", s.author), slackMaxFooter),
	}
	fields, err := s.fields.Render(ev)
	if err != nil && r.Err == nil {
		r.Err = fmt.Errorf("fields.%w", err)
	}
	if r.Err != nil {
		return message{}, r.Err
	}
	if strings.Trim(channel, "#") == "" {
		return message{}, sinks.Permanent(sinks.ClassNoChannel, errors.New("channel rendered empty and no fallbackChannel is set"))
	}
	for _, f := range fields {
		att.Fields = append(att.Fields, slack.AttachmentField{Title: sinks.TruncateRunes(f[0], slackMaxFieldTitle),
			Value: sinks.TruncateRunes(f[1], slackMaxFieldValue), Short: true})
	}
	m := message{Channel: channel, Text: text}
	if att.Color != "" || att.Title != "" || att.Footer != "" || att.AuthorName != "" || len(att.Fields) > 0 {
		m.Attachments = []slack.Attachment{att}
	}
	return m, nil
}

func (s *slackSink) Preview(ev *event.EnhancedEvent) (any, error) { return s.compose(ev) }

func (s *slackSink) Send(ctx context.Context, ev *event.EnhancedEvent) error {
	_, err := s.Post(ctx, ev)
	return err
}

// Post sends ev's message; the reference is "CHANNEL_ID/TS", what
// chat.update takes.
func (s *slackSink) Post(ctx context.Context, ev *event.EnhancedEvent) (string, error) {
	m, err := s.compose(ev)
	if err != nil {
		return "", err
	}
	channel, ts, err := s.client.PostMessageContext(ctx, m.Channel, m.options()...)
	if err != nil {
		return "", classifySlack(err)
	}
	return channel + "/" + ts, nil
}

// Update edits the message ref with ev's text and attachment.
func (s *slackSink) Update(ctx context.Context, ref string, ev *event.EnhancedEvent) error {
	channel, ts, ok := strings.Cut(ref, "/")
	if !ok {
		return sinks.Permanent(sinks.ClassRejected, fmt.Errorf("slack: %q is not a message reference", ref))
	}
	m, err := s.compose(ev)
	if err != nil {
		return err
	}
	if _, _, _, err = s.client.UpdateMessageContext(ctx, channel, ts, m.options()...); err != nil {
		return classifySlack(err)
	}
	if s.threadReplies && ev.Group != nil && ev.Group.Status == "update" {
		reply := []slack.MsgOption{slack.MsgOptionText(ev.Message, true), slack.MsgOptionTS(ts)}
		if _, _, err := s.client.PostMessageContext(ctx, channel, reply...); err != nil {
			return classifySlack(fmt.Errorf("thread reply: %w", err))
		}
	}
	return nil
}

func (m message) options() []slack.MsgOption {
	opts := []slack.MsgOption{slack.MsgOptionText(m.Text, true)} // escape &, <, > for mrkdwn
	if len(m.Attachments) > 0 {
		opts = append(opts, slack.MsgOptionAttachments(m.Attachments...))
	}
	return opts
}

func (s *slackSink) Close() error { return nil }

// classifySlack: rate limits and server errors are retried (after Slack's
// Retry-After); an unknown channel, a revoked token or any other answer
// Slack gives is not: retrying would not change it.
func classifySlack(err error) error {
	if err == nil {
		return nil
	}
	var rl *slack.RateLimitedError
	var sc slack.StatusCodeError
	var se slack.SlackErrorResponse
	switch {
	case errors.As(err, &rl):
		// slack-go's message quotes Slack's Retry-After as it came (it
		// said "retry after 2157299h"); the wait is the worker's, capped
		// by delivery.maxRetryAfter, so the message names none.
		after := min(rl.RetryAfter, sinks.RetryAfterCeiling)
		return sinks.Retryable(sinks.ClassRateLimited, errors.New("Slack rate limited this token; retrying after its Retry-After, at most delivery.maxRetryAfter"), after)
	case errors.As(err, &sc):
		if sc.Code >= 500 || sc.Code == 408 {
			return sinks.Retryable(sinks.ClassHTTP5xx, err, 0)
		}
		return sinks.Permanent(sinks.ClassHTTP4xx, err)
	case errors.As(err, &se):
		switch se.Err {
		case "ratelimited", "rate_limited":
			return sinks.Retryable(sinks.ClassRateLimited, err, 0)
		case "internal_error", "fatal_error", "service_unavailable", "request_timeout":
			return sinks.Retryable(sinks.ClassHTTP5xx, err, 0)
		}
		return sinks.Permanent(sinks.ClassRejected, fmt.Errorf("slack: %w", err))
	}
	return sinks.TransportError(err)
}

// Send and Preview build the request with the same code.
var (
	_ sinks.Previewer = (*slackSink)(nil)
	_ sinks.Updater   = (*slackSink)(nil)
)
