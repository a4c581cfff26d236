// Package wecom posts events to WeCom (企业微信): a group robot's webhook,
// or the application message API with an access token fetched once and
// reused until it expires (token.go).
package wecom

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/eventide/eventide/pkg/kube/event"
	"github.com/eventide/eventide/pkg/sinks"
)

// Message types.
const (
	TypeText     = "text"
	TypeMarkdown = "markdown"
)

// DefaultAPIURL is WeCom's API, for the application mode.
const DefaultAPIURL = "https://qyapi.weixin.qq.com"

// Config is one of two modes: webhook (a group robot) or corpID,
// corpSecret and agentID (an application sending to users, departments
// or tags).
type Config struct {
	// Webhook is the robot's URL (…/cgi-bin/webhook/send?key=…).
	Webhook    sinks.Secret `yaml:"webhook"`
	CorpID     string       `yaml:"corpID"`
	CorpSecret sinks.Secret `yaml:"corpSecret"`
	AgentID    int64        `yaml:"agentID"`
	// ToUser, ToParty and ToTag are the application's recipients
	// (templates, joined with "|" in one request); ToUser defaults to
	// @all when none is set.
	ToUser  []string `yaml:"toUser" tmpl:"true"`
	ToParty []string `yaml:"toParty" tmpl:"true"`
	ToTag   []string `yaml:"toTag" tmpl:"true"`
	APIURL  string   `yaml:"apiURL"`  // default DefaultAPIURL
	MsgType string   `yaml:"msgType"` // text (default) or markdown
	Content string   `yaml:"content" tmpl:"true"`
	// MentionedList (user IDs, "@all") and MentionedMobileList are the
	// robot's mentions (templates); in markdown they are written into the
	// text as <@userid>.
	MentionedList       []string        `yaml:"mentionedList" tmpl:"true"`
	MentionedMobileList []string        `yaml:"mentionedMobileList" tmpl:"true"`
	TLS                 sinks.TLSConfig `yaml:"tls"`
}

// WeCom's answers worth telling apart (errcode).
const (
	codeBusy         = -1    // system busy
	codeInvalidToken = 40014 // the access token is not valid
	codeTokenExpired = 42001 // the access token expired
	codeRateLimited  = 45009 // over the API's frequency limit
)

// WeCom's message limits (bytes): longer content is cut to fit.
const (
	maxText     = 2048
	maxMarkdown = 4096
)

// rateLimitWait is the least wait after codeRateLimited: the limits are
// per minute.
const rateLimitWait = time.Minute

func (c *Config) Build(path string, deps sinks.Deps) (sinks.Sink, error) {
	var errs []error
	s := &sink{msgType: c.MsgType}
	if s.msgType == "" {
		s.msgType = TypeText
	}
	if s.msgType != TypeText && s.msgType != TypeMarkdown {
		errs = append(errs, fmt.Errorf("%s.msgType: %q: use text or markdown", path, c.MsgType))
	}
	app := c.CorpID != "" || c.CorpSecret != "" || c.AgentID != 0
	var endpoint *sinks.Endpoint
	var err error
	switch {
	case c.Webhook != "" && app:
		errs = append(errs, fmt.Errorf("%s: webhook (a group robot) or corpID/corpSecret/agentID (an application), not both", path))
	case c.Webhook != "":
		endpoint, err = sinks.CheckEndpoint(path+".webhook", c.Webhook.Value(), true, sinks.HTTPSOnly)
		errs = append(errs, err)
		s.endpoint = c.Webhook.Value()
		if len(c.ToUser)+len(c.ToParty)+len(c.ToTag) > 0 {
			errs = append(errs, fmt.Errorf("%s: toUser, toParty and toTag are for an application (corpID…); a robot posts to its group", path))
		}
	case app:
		if c.CorpID == "" || c.CorpSecret == "" || c.AgentID == 0 {
			errs = append(errs, fmt.Errorf("%s: an application needs corpID, corpSecret and agentID", path))
		}
		api := c.APIURL
		if api == "" {
			api = DefaultAPIURL
		}
		endpoint, err = sinks.CheckEndpoint(path+".apiURL", api, true, sinks.HTTPSOnly)
		errs = append(errs, err)
		api = strings.TrimRight(api, "/")
		s.endpoint = api + "/cgi-bin/message/send"
		s.agentID = c.AgentID
		s.tokens = &tokens{url: api + "/cgi-bin/gettoken?corpid=" + url.QueryEscape(c.CorpID) + "&corpsecret=" + url.QueryEscape(c.CorpSecret.Value()), now: time.Now}
		if len(c.MentionedList)+len(c.MentionedMobileList) > 0 {
			errs = append(errs, fmt.Errorf("%s: mentionedList and mentionedMobileList are for a group robot (webhook); an application sends to toUser", path))
		}
	default:
		errs = append(errs, fmt.Errorf("%s: set webhook (a group robot) or corpID, corpSecret and agentID (an application)", path))
	}
	errs = append(errs, sinks.ParseFields(path, sinks.Field("content", c.Content, sinks.DefaultChatText, &s.content)))
	for _, l := range []struct {
		key  string
		list []string
		dst  *[]*sinks.Template
	}{{"toUser", c.ToUser, &s.toUser}, {"toParty", c.ToParty, &s.toParty}, {"toTag", c.ToTag, &s.toTag},
		{"mentionedList", c.MentionedList, &s.mentioned}, {"mentionedMobileList", c.MentionedMobileList, &s.mentionedMobiles}} {
		*l.dst, err = sinks.ParseTemplateList(path+"."+l.key, l.list)
		errs = append(errs, err)
	}
	tc, err := c.TLS.Build(path + ".tls")
	errs = append(errs, err)
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	endpoint.Warn(deps.Log, c.TLS, true)
	s.client = sinks.NewHTTPClient(tc)
	if s.tokens != nil {
		s.tokens.client = s.client
	}
	return s, nil
}

type sink struct {
	endpoint                    string  // the robot's webhook, or the application's message/send
	tokens                      *tokens // the application's; nil for a robot
	agentID                     int64
	msgType                     string
	content                     *sinks.Template
	toUser, toParty, toTag      []*sinks.Template
	mentioned, mentionedMobiles []*sinks.Template
	client                      *http.Client
}

// DefaultRateLimit is a robot's 20 messages a minute; an application may
// send 30 a minute to one member.
func (s *sink) DefaultRateLimit() string {
	if s.tokens != nil {
		return "30/min"
	}
	return "20/min"
}

func (s *sink) Send(ctx context.Context, ev *event.EnhancedEvent) error {
	body, err := s.body(ev)
	if err != nil {
		return err
	}
	if s.tokens == nil {
		return s.post(ctx, s.endpoint, body)
	}
	// An application's token is reused until WeCom says it is no longer
	// valid; then it is fetched again and the message sent once more.
	for attempt := 0; ; attempt++ {
		token, err := s.tokens.get(ctx)
		if err != nil {
			return err
		}
		err = s.post(ctx, s.endpoint+"?access_token="+url.QueryEscape(token), body)
		var stale staleToken
		if !errors.As(err, &stale) {
			return err
		}
		s.tokens.invalidate(token)
		if attempt > 0 {
			return sinks.Retryable(sinks.ClassRejected, err, 0)
		}
	}
}

// staleToken is an answer saying the access token is invalid or expired.
type staleToken struct{ error }

// post sends body and reads WeCom's answer.
func (s *sink) post(ctx context.Context, endpoint string, body []byte) error {
	a, err := sinks.PostChat(ctx, s.client, endpoint, body)
	if err != nil {
		return err
	}
	err = fmt.Errorf("wecom: errcode %d: %s", a.Code, sinks.Truncate(a.Msg, 200))
	switch a.Code {
	case 0:
		return nil
	case codeInvalidToken, codeTokenExpired:
		return staleToken{err}
	case codeRateLimited:
		return sinks.Retryable(sinks.ClassRateLimited, err, rateLimitWait)
	case codeBusy:
		return sinks.Retryable(sinks.ClassHTTP5xx, err, 0)
	}
	return sinks.Permanent(sinks.ClassRejected, err)
}

func (s *sink) Preview(ev *event.EnhancedEvent) (any, error) {
	body, err := s.body(ev)
	if err != nil {
		return nil, err
	}
	return sinks.NewHTTPPreview(http.MethodPost, s.endpoint, nil, body), nil
}

// body renders ev's message: the robot's, or the application's with its
// recipients.
func (s *sink) body(ev *event.EnhancedEvent) ([]byte, error) {
	r := sinks.Renderer{Event: ev}
	content := r.Render("content", s.content)
	limit := maxText
	if s.msgType == TypeMarkdown {
		limit = maxMarkdown
	}
	content = sinks.CutBytes(content, limit)
	msg := map[string]any{"msgtype": s.msgType}
	if s.tokens != nil {
		toUser, toParty, toTag := r.RenderList("toUser", s.toUser), r.RenderList("toParty", s.toParty), r.RenderList("toTag", s.toTag)
		switch {
		case len(s.toUser)+len(s.toParty)+len(s.toTag) == 0:
			toUser = []string{"@all"}
		case len(toUser)+len(toParty)+len(toTag) == 0 && r.Err == nil:
			// Recipients from templates that all came out empty (a pod
			// without its owner label): never everyone instead.
			return nil, sinks.Permanent(sinks.ClassNoChannel, fmt.Errorf("wecom: toUser, toParty and toTag rendered empty for this event"))
		}
		msg["touser"], msg["toparty"], msg["totag"] = strings.Join(toUser, "|"), strings.Join(toParty, "|"), strings.Join(toTag, "|")
		msg["agentid"] = s.agentID
		msg[s.msgType] = map[string]string{"content": content}
	} else {
		mentioned, mobiles := r.RenderList("mentionedList", s.mentioned), r.RenderList("mentionedMobileList", s.mentionedMobiles)
		if s.msgType == TypeMarkdown {
			for _, m := range mentioned {
				if m != "@all" && !strings.Contains(content, "<@"+m+">") {
					content += " <@" + m + ">"
				}
			}
			msg["markdown"] = map[string]string{"content": content}
		} else {
			msg["text"] = map[string]any{"content": content, "mentioned_list": mentioned, "mentioned_mobile_list": mobiles}
		}
	}
	if r.Err != nil {
		return nil, r.Err
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
