// Package dingtalk posts events to a DingTalk custom group robot: text,
// markdown or an action card, with @-mentions (a mobile number from the
// pod's labels reaches its owner), signed when the robot has a secret.
package dingtalk

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/eventide/eventide/pkg/kube/event"
	"github.com/eventide/eventide/pkg/sinks"
)

// Message types.
const (
	TypeText       = "text"
	TypeMarkdown   = "markdown"
	TypeActionCard = "actionCard"
)

// Config posts one robot message per event (or per group notification).
type Config struct {
	// Webhook is the robot's URL (https://oapi.dingtalk.com/robot/send?access_token=…).
	Webhook sinks.Secret `yaml:"webhook"`
	// Secret is the robot's signing secret (SEC…), when it has one.
	Secret  sinks.Secret `yaml:"secret"`
	MsgType string       `yaml:"msgType"`             // text (default), markdown, actionCard
	Content string       `yaml:"content" tmpl:"true"` // text
	Title   string       `yaml:"title" tmpl:"true"`   // markdown, actionCard
	Text    string       `yaml:"text" tmpl:"true"`    // markdown, actionCard
	// SingleTitle and SingleURL are the action card's one button.
	SingleTitle string          `yaml:"singleTitle" tmpl:"true"`
	SingleURL   string          `yaml:"singleURL" tmpl:"true"`
	At          At              `yaml:"at"`
	TLS         sinks.TLSConfig `yaml:"tls"`
}

// At is who the message mentions: mobile numbers and user IDs are
// templates (an empty result mentions nobody), all mentions everyone.
type At struct {
	Mobiles []string `yaml:"mobiles" tmpl:"true"`
	UserIDs []string `yaml:"userIds" tmpl:"true"`
	All     bool     `yaml:"all"`
}

// The robot's answers worth telling apart (errcode).
const (
	codeTooFast = 130101 // "send too fast": the robot is throttled for 10 minutes
	// tooFastWait is the least wait after codeTooFast.
	tooFastWait = time.Minute
)

func (c *Config) Build(path string, deps sinks.Deps) (sinks.Sink, error) {
	var errs []error
	endpoint, err := sinks.CheckEndpoint(path+".webhook", c.Webhook.Value(), true, sinks.HTTPSOnly)
	errs = append(errs, err)
	s := &sink{webhook: c.Webhook.Value(), secret: c.Secret.Value(), msgType: c.MsgType, all: c.At.All, now: time.Now}
	if s.msgType == "" {
		s.msgType = TypeText
	}
	switch s.msgType {
	case TypeText:
		if c.Title != "" || c.Text != "" {
			errs = append(errs, fmt.Errorf("%s: title and text are for msgType markdown or actionCard; a text message's template is content", path))
		}
		errs = append(errs, sinks.ParseFields(path, sinks.Field("content", c.Content, sinks.DefaultChatText, &s.text)))
	case TypeMarkdown, TypeActionCard:
		if c.Content != "" {
			errs = append(errs, fmt.Errorf("%s.content: for msgType text; %s uses title and text", path, s.msgType))
		}
		errs = append(errs, sinks.ParseFields(path,
			sinks.Field("title", c.Title, sinks.DefaultChatTitle, &s.title),
			sinks.Field("text", c.Text, sinks.DefaultChatText, &s.text)))
		if s.msgType == TypeActionCard {
			errs = append(errs, sinks.ParseFields(path,
				sinks.Field("singleTitle", c.SingleTitle, "Details", &s.singleTitle),
				sinks.Field("singleURL", c.SingleURL, "", &s.singleURL)))
			if c.SingleURL == "" {
				errs = append(errs, fmt.Errorf("%s.singleURL: required with msgType actionCard (the card's button)", path))
			}
		}
	default:
		errs = append(errs, fmt.Errorf("%s.msgType: %q: use text, markdown or actionCard", path, c.MsgType))
	}
	s.mobiles, err = sinks.ParseTemplateList(path+".at.mobiles", c.At.Mobiles)
	errs = append(errs, err)
	s.userIDs, err = sinks.ParseTemplateList(path+".at.userIds", c.At.UserIDs)
	errs = append(errs, err)
	tc, err := c.TLS.Build(path + ".tls")
	errs = append(errs, err)
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	endpoint.Warn(deps.Log, c.TLS, true) // the URL carries the access token
	s.client = sinks.NewHTTPClient(tc)
	return s, nil
}

type sink struct {
	webhook, secret                     string
	msgType                             string
	title, text, singleTitle, singleURL *sinks.Template
	mobiles, userIDs                    []*sinks.Template
	all                                 bool
	client                              *http.Client
	now                                 func() time.Time
}

func (s *sink) DefaultRateLimit() string { return "20/min" }

func (s *sink) Send(ctx context.Context, ev *event.EnhancedEvent) error {
	body, err := s.body(ev)
	if err != nil {
		return err
	}
	a, err := sinks.PostChat(ctx, s.client, s.signedURL(), body)
	switch {
	case err != nil:
		return err
	case a.Code == 0:
		return nil
	case a.Code == codeTooFast:
		return sinks.Retryable(sinks.ClassRateLimited, fmt.Errorf("dingtalk: errcode %d: %s", a.Code, a.Msg), tooFastWait)
	}
	return sinks.Permanent(sinks.ClassRejected, fmt.Errorf("dingtalk: errcode %d: %s", a.Code, sinks.Truncate(a.Msg, 200)))
}

func (s *sink) Preview(ev *event.EnhancedEvent) (any, error) {
	body, err := s.body(ev)
	if err != nil {
		return nil, err
	}
	return sinks.NewHTTPPreview(http.MethodPost, s.webhook, nil, body), nil
}

// signedURL is the webhook with timestamp and sign added when the robot
// has a secret: sign is base64(HMAC-SHA256(key=secret,
// data=timestamp+"\n"+secret)), timestamp in milliseconds.
func (s *sink) signedURL() string {
	if s.secret == "" {
		return s.webhook
	}
	ts := strconv.FormatInt(s.now().UnixMilli(), 10)
	sep := "?"
	if strings.Contains(s.webhook, "?") {
		sep = "&"
	}
	return s.webhook + sep + "timestamp=" + ts + "&sign=" + url.QueryEscape(Sign(ts, s.secret))
}

// Sign is DingTalk's signature of timestamp (milliseconds, as sent).
func Sign(timestamp, secret string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(timestamp + "\n" + secret))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

type at struct {
	AtMobiles []string `json:"atMobiles,omitempty"`
	AtUserIDs []string `json:"atUserIds,omitempty"`
	IsAtAll   bool     `json:"isAtAll,omitempty"`
}

// body renders ev's message.
func (s *sink) body(ev *event.EnhancedEvent) ([]byte, error) {
	r := sinks.Renderer{Event: ev}
	mentions := at{AtMobiles: r.RenderList("at.mobiles", s.mobiles), AtUserIDs: r.RenderList("at.userIds", s.userIDs), IsAtAll: s.all}
	text := r.Render("text", s.text)
	msg := map[string]any{"msgtype": s.msgType}
	switch s.msgType {
	case TypeText:
		msg["text"] = map[string]string{"content": text}
	case TypeMarkdown:
		// A markdown message highlights only the mentions its text names.
		for _, m := range append(append([]string(nil), mentions.AtMobiles...), mentions.AtUserIDs...) {
			if !strings.Contains(text, "@"+m) {
				text += " @" + m
			}
		}
		msg["markdown"] = map[string]string{"title": r.Render("title", s.title), "text": text}
	case TypeActionCard:
		msg["actionCard"] = map[string]string{"title": r.Render("title", s.title), "text": text,
			"singleTitle": r.Render("singleTitle", s.singleTitle), "singleURL": r.Render("singleURL", s.singleURL)}
	}
	if r.Err != nil {
		return nil, r.Err
	}
	if mentions.AtMobiles != nil || mentions.AtUserIDs != nil || mentions.IsAtAll {
		msg["at"] = mentions
	}
	return json.Marshal(msg)
}

func (s *sink) Close() error {
	s.client.CloseIdleConnections()
	return nil
}

var (
	_ sinks.Previewer   = (*sink)(nil)
	_ sinks.RateLimited = (*sink)(nil)
)
