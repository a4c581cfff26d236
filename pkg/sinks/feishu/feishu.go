// Package feishu posts events to a Feishu (Lark) custom bot: text, a rich
// text post, or an interactive card laid out by templates, signed when the
// bot has a secret.
package feishu

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"github.com/eventide/eventide/pkg/kube/event"
	"github.com/eventide/eventide/pkg/sinks"
)

// Message types.
const (
	TypeText        = "text"
	TypePost        = "post"
	TypeInteractive = "interactive"
)

// Config posts one bot message per event (or per group notification).
type Config struct {
	// Webhook is the bot's URL (https://open.feishu.cn/open-apis/bot/v2/hook/…).
	Webhook sinks.Secret `yaml:"webhook"`
	// Secret is the bot's signing secret, when "signature verification"
	// is on.
	Secret  sinks.Secret `yaml:"secret"`
	MsgType string       `yaml:"msgType"`           // text (default), post, interactive
	Title   string       `yaml:"title" tmpl:"true"` // post
	Text    string       `yaml:"text" tmpl:"true"`  // text, post
	// Card is the interactive card, a layout of templates (Feishu's card
	// JSON); default a header with the title and the text in markdown.
	Card yaml.Node       `yaml:"card"`
	TLS  sinks.TLSConfig `yaml:"tls"`
}

// Feishu's answers worth telling apart (code).
const (
	codeRateLimited = 11232 // over the bot's frequency limit
	codeBadSign     = 19021 // the signature did not verify
)

// MaxBodyBytes is the most a bot message may be (Feishu's 20 KB): a longer
// text is cut to fit before sending.
const MaxBodyBytes = 20 * 1000

func (c *Config) Build(path string, deps sinks.Deps) (sinks.Sink, error) {
	var errs []error
	endpoint, err := sinks.CheckEndpoint(path+".webhook", c.Webhook.Value(), true, sinks.HTTPSOnly)
	errs = append(errs, err)
	s := &sink{webhook: c.Webhook.Value(), secret: c.Secret.Value(), msgType: c.MsgType, now: time.Now}
	if s.msgType == "" {
		s.msgType = TypeText
	}
	switch s.msgType {
	case TypeText, TypePost, TypeInteractive:
	default:
		errs = append(errs, fmt.Errorf("%s.msgType: %q: use text, post or interactive", path, c.MsgType))
	}
	if c.Card.Kind != 0 && s.msgType != TypeInteractive {
		errs = append(errs, fmt.Errorf("%s.card: only with msgType interactive", path))
	}
	if c.Title != "" && s.msgType == TypeText {
		errs = append(errs, fmt.Errorf("%s.title: for msgType post or interactive; a text message is its text only", path))
	}
	errs = append(errs, sinks.ParseFields(path,
		sinks.Field("title", c.Title, sinks.DefaultChatTitle, &s.title),
		sinks.Field("text", c.Text, sinks.DefaultChatText, &s.text)))
	if c.Card.Kind != 0 {
		s.card, err = sinks.ParseLayout(path+".card", &c.Card)
		errs = append(errs, err)
	}
	tc, err := c.TLS.Build(path + ".tls")
	errs = append(errs, err)
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	endpoint.Warn(deps.Log, c.TLS, true) // the URL is the credential
	s.client = sinks.NewHTTPClient(tc)
	return s, nil
}

type sink struct {
	webhook, secret string
	msgType         string
	title, text     *sinks.Template
	card            *sinks.Layout // nil: the default card
	client          *http.Client
	now             func() time.Time
}

// DefaultRateLimit is the bot's 5 messages a second.
func (s *sink) DefaultRateLimit() string { return "5/s" }

func (s *sink) Send(ctx context.Context, ev *event.EnhancedEvent) error {
	body, err := s.body(ev, true)
	if err != nil {
		return err
	}
	a, err := sinks.PostChat(ctx, s.client, s.webhook, body)
	if err != nil {
		return err
	}
	err = fmt.Errorf("feishu: code %d: %s", a.Code, sinks.Truncate(a.Msg, 200))
	switch a.Code {
	case 0:
		return nil
	case codeRateLimited:
		return sinks.Retryable(sinks.ClassRateLimited, err, time.Second)
	case codeBadSign:
		return sinks.Permanent(sinks.ClassRejected, fmt.Errorf("%w (check secret, and that this machine's clock is right: a timestamp over an hour off is refused)", err))
	}
	return sinks.Permanent(sinks.ClassRejected, err)
}

// Preview shows the body unsigned: a signature is a credential for an
// hour.
func (s *sink) Preview(ev *event.EnhancedEvent) (any, error) {
	body, err := s.body(ev, false)
	if err != nil {
		return nil, err
	}
	return sinks.NewHTTPPreview(http.MethodPost, s.webhook, nil, body), nil
}

// Sign is Feishu's signature of timestamp (seconds, as sent):
// base64(HMAC-SHA256(key=timestamp+"\n"+secret, data=empty)).
func Sign(timestamp, secret string) string {
	m := hmac.New(sha256.New, []byte(timestamp+"\n"+secret))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// body renders ev's message, cut to MaxBodyBytes, signed when asked and
// the bot has a secret.
func (s *sink) body(ev *event.EnhancedEvent, signed bool) ([]byte, error) {
	r := sinks.Renderer{Event: ev}
	title, text := r.Render("title", s.title), r.Render("text", s.text)
	if r.Err != nil {
		return nil, r.Err
	}
	var card json.RawMessage
	if s.card != nil {
		b, err := s.card.Render(ev)
		if err != nil {
			return nil, fmt.Errorf("card.%w", err)
		}
		card = b
	}
	body, err := s.marshal(title, text, card, signed)
	if err == nil && len(body) > MaxBodyBytes && text != "" {
		// Too long: keep the share of the text that fits (escaping makes
		// some characters longer), a little less each time it does not.
		frame, _ := s.marshal(title, "", card, signed)
		for i := 0; err == nil && len(body) > MaxBodyBytes && i < 8; i++ {
			share := float64(MaxBodyBytes-len(frame)-16) / float64(len(body)-len(frame)) * (1 - 0.05*float64(i))
			keep := max(0, int(float64(len(text))*share))
			for keep > 0 && !utf8.RuneStart(text[keep]) {
				keep--
			}
			text = text[:keep] + "…"
			body, err = s.marshal(title, text, card, signed)
		}
	}
	if err == nil && len(body) > MaxBodyBytes {
		return nil, sinks.Permanent(sinks.ClassTooLarge, fmt.Errorf("feishu: message of %d bytes is over the bot's %d (a card cannot be cut)", len(body), MaxBodyBytes))
	}
	return body, err
}

// marshal is the request body.
func (s *sink) marshal(title, text string, card json.RawMessage, signed bool) ([]byte, error) {
	msg := map[string]any{"msg_type": s.msgType}
	switch s.msgType {
	case TypeText:
		msg["content"] = map[string]string{"text": text}
	case TypePost:
		msg["content"] = map[string]any{"post": map[string]any{"zh_cn": map[string]any{
			"title": title, "content": [][]map[string]string{{{"tag": "text", "text": text}}}}}}
	case TypeInteractive:
		if card == nil {
			card, _ = json.Marshal(map[string]any{
				"header":   map[string]any{"title": map[string]string{"tag": "plain_text", "content": title}},
				"elements": []any{map[string]any{"tag": "div", "text": map[string]string{"tag": "lark_md", "content": text}}},
			})
		}
		msg["card"] = card
	}
	if signed && s.secret != "" {
		ts := strconv.FormatInt(s.now().Unix(), 10)
		msg["timestamp"], msg["sign"] = ts, Sign(ts, s.secret)
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
