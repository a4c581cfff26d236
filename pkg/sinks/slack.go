package sinks

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/eventide/eventide/pkg/kube/event"

	"github.com/slack-go/slack"
)

// slackMaxText is Slack's limit on a message's text.
const slackMaxText = 40000

// SlackConfig posts a message per event. channel is a template, so the
// pod's owner label can pick the team's channel:
//
//	channel: '{{ with .InvolvedObject.Labels.owner }}#{{ . }}-alerts{{ end }}'
//	fallbackChannel: '#platform-alerts'
type SlackConfig struct {
	Token           Secret            `yaml:"token"`
	Channel         string            `yaml:"channel"`
	FallbackChannel string            `yaml:"fallbackChannel"` // when channel renders empty
	Message         string            `yaml:"message"`
	Color           string            `yaml:"color"`
	Footer          string            `yaml:"footer"`
	Title           string            `yaml:"title"`
	AuthorName      string            `yaml:"author_name"`
	Fields          map[string]string `yaml:"fields"` // shown in key order
	APIURL          string            `yaml:"apiURL"` // default https://slack.com/api/
}

func (c *SlackConfig) build(path string, _ Deps) (Sink, error) {
	var errs []error
	if c.Token == "" {
		errs = append(errs, fmt.Errorf("%s.token: required", path))
	}
	if c.Channel == "" && c.FallbackChannel == "" {
		errs = append(errs, fmt.Errorf("%s.channel: required", path))
	}
	s := &slackSink{}
	errs = append(errs, parseFields(path,
		field{"channel", c.Channel, "", &s.channel}, field{"fallbackChannel", c.FallbackChannel, "", &s.fallback},
		field{"message", c.Message, "{{ .Message }}", &s.message}, field{"color", c.Color, "", &s.color},
		field{"footer", c.Footer, "", &s.footer}, field{"title", c.Title, "", &s.title},
		field{"author_name", c.AuthorName, "", &s.author}))
	fields, err := ParseTemplateMap(path+".fields", c.Fields)
	errs = append(errs, err)
	opts := []slack.Option{slack.OptionHTTPClient(&http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()})}
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

type slackSink struct {
	client                                           *slack.Client
	channel, fallback, message, color, footer, title *Template
	author                                           *Template
	fields                                           *TemplateMap
}

func (s *slackSink) Send(ctx context.Context, ev *event.EnhancedEvent) error {
	r := renderer{ev: ev}
	channel := strings.TrimSpace(r.render("channel", s.channel))
	if strings.Trim(channel, "#") == "" {
		channel = strings.TrimSpace(r.render("fallbackChannel", s.fallback))
	}
	text := truncateRunes(r.render("message", s.message), slackMaxText)
	att := slack.Attachment{
		Color:      r.render("color", s.color),
		Title:      r.render("title", s.title),
		Footer:     r.render("footer", s.footer),
		AuthorName: r.render("author_name", s.author),
	}
	fields, err := s.fields.Render(ev)
	if err != nil && r.err == nil {
		r.err = fmt.Errorf("fields.%w", err)
	}
	if r.err != nil {
		return r.err
	}
	if strings.Trim(channel, "#") == "" {
		return Permanent("no_channel", errors.New("channel rendered empty and no fallbackChannel is set"))
	}
	for _, f := range fields {
		att.Fields = append(att.Fields, slack.AttachmentField{Title: f[0], Value: f[1], Short: true})
	}
	opts := []slack.MsgOption{slack.MsgOptionText(text, true)} // escape &, <, > for mrkdwn
	if att.Color != "" || att.Title != "" || att.Footer != "" || att.AuthorName != "" || len(att.Fields) > 0 {
		opts = append(opts, slack.MsgOptionAttachments(att))
	}
	_, _, err = s.client.PostMessageContext(ctx, channel, opts...)
	return classifySlack(err)
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
		return Retryable("rate_limited", err, rl.RetryAfter)
	case errors.As(err, &sc):
		if sc.Code >= 500 || sc.Code == 408 {
			return Retryable("http_5xx", err, 0)
		}
		return Permanent("http_4xx", err)
	case errors.As(err, &se):
		switch se.Err {
		case "ratelimited", "rate_limited":
			return Retryable("rate_limited", err, 0)
		case "internal_error", "fatal_error", "service_unavailable", "request_timeout":
			return Retryable("http_5xx", err, 0)
		}
		return Permanent("rejected", fmt.Errorf("slack: %w", err))
	case errors.Is(err, context.DeadlineExceeded):
		return Retryable("timeout", err, 0)
	}
	return Retryable("network", redactURLError(err), 0)
}

// renderer renders several templates for one event and keeps the first
// error, naming the key that failed.
type renderer struct {
	ev  *event.EnhancedEvent
	err error
}

func (r *renderer) render(key string, t *Template) string {
	if t == nil || r.err != nil {
		return ""
	}
	s, err := t.Render(r.ev)
	if err != nil {
		r.err = fmt.Errorf("%s: %w", key, err)
	}
	return s
}

func truncateRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}
