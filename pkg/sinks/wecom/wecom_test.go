package wecom

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eventide/eventide/internal/testenv"
	"github.com/eventide/eventide/internal/testenv/sinktest"
	"github.com/eventide/eventide/pkg/kube/event"
	"github.com/eventide/eventide/pkg/sinks"
)

// wecomAPI is WeCom's API: gettoken hands out numbered tokens, a robot's
// webhook and message/send record what they get; send answers with
// answer(token) (default: 0 for the current token, 42001 for any other).
type wecomAPI struct {
	*httptest.Server
	mu       sync.Mutex
	issued   int // tokens handed out
	bodies   []map[string]any
	tokens   []string // the token each message/send carried
	answer   func(token string) string
	tokenErr string // gettoken's answer instead of a token
}

func newAPI(t *testing.T) *wecomAPI {
	a := &wecomAPI{}
	a.answer = func(token string) string {
		if token != fmt.Sprintf("token-%d", a.issued) {
			return `{"errcode":42001,"errmsg":"access_token expired"}`
		}
		return `{"errcode":0,"errmsg":"ok"}`
	}
	a.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.mu.Lock()
		defer a.mu.Unlock()
		q := r.URL.Query()
		switch r.URL.Path {
		case "/cgi-bin/gettoken":
			if q.Get("corpid") != "ww1" || q.Get("corpsecret") != "s3cret" || r.Method != http.MethodGet {
				t.Errorf("gettoken %s %s", r.Method, r.URL.RawQuery)
			}
			if a.tokenErr != "" {
				io.WriteString(w, a.tokenErr)
				return
			}
			a.issued++
			fmt.Fprintf(w, `{"errcode":0,"errmsg":"ok","access_token":"token-%d","expires_in":7200}`, a.issued)
			return
		case "/cgi-bin/message/send", "/cgi-bin/webhook/send":
		default:
			t.Errorf("path %s", r.URL.Path)
		}
		var body map[string]any
		b, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(b, &body); err != nil {
			t.Errorf("body is not JSON: %s", b)
		}
		a.bodies = append(a.bodies, body)
		a.tokens = append(a.tokens, q.Get("access_token"))
		io.WriteString(w, a.answer(q.Get("access_token")))
	}))
	t.Cleanup(a.Close)
	return a
}

func (a *wecomAPI) last(t *testing.T) string {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.bodies) == 0 {
		t.Fatal("no message")
	}
	b, _ := json.Marshal(a.bodies[len(a.bodies)-1])
	return string(b)
}

func appSink(t *testing.T, a *wecomAPI, extra string) sinks.Sink {
	return sinktest.MustBuild(t, &Config{}, `wecom: {apiURL: '`+a.URL+`', corpID: ww1, corpSecret: s3cret, agentID: 1000002`+extra+`}`)
}

// An application fetches its token once for 100 events (kube-eventer
// fetched one per event), and again only when WeCom says it expired; the
// message is then sent once more with the new token.
func TestTokenFetchedOnceAndAfterExpiry(t *testing.T) {
	a := newAPI(t)
	s := appSink(t, a, "")
	for _, ev := range testenv.SampleEvents(100) {
		if err := s.Send(context.Background(), ev); err != nil {
			t.Fatal(err)
		}
	}
	if a.issued != 1 || len(a.bodies) != 100 {
		t.Fatalf("100 events: %d tokens fetched, %d messages", a.issued, len(a.bodies))
	}
	a.mu.Lock()
	a.issued++ // WeCom expired token-1 early: only token-2 is good now
	a.mu.Unlock()
	if err := s.Send(context.Background(), testenv.SampleEvent()); err != nil {
		t.Fatal(err)
	}
	if a.issued != 3 || len(a.bodies) != 102 || a.tokens[100] != "token-1" || a.tokens[101] != "token-3" {
		t.Errorf("after expiry: %d tokens, %d messages, sent with %v", a.issued, len(a.bodies), a.tokens[100:])
	}
}

// Several users go in one request, joined by "|" (not one request per
// user); none set is @all.
func TestApplicationRecipients(t *testing.T) {
	a := newAPI(t)
	if err := appSink(t, a, `, toUser: [alice, '{{ index .InvolvedObject.Labels "owner" }}'], toTag: ['2']`).Send(context.Background(), testenv.SampleEvent()); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"touser":"alice|payments"`, `"totag":"2"`, `"toparty":""`, `"agentid":1000002`, `"msgtype":"text"`, `"text":{"content":"[prod-eu-1] Warning BackOff`} {
		if got := a.last(t); !strings.Contains(got, want) {
			t.Errorf("message lacks %s: %s", want, got)
		}
	}
	if err := appSink(t, a, "").Send(context.Background(), testenv.SampleEvent()); err != nil || !strings.Contains(a.last(t), `"touser":"@all"`) {
		t.Errorf("default recipient: %v %s", err, a.last(t))
	}
}

// A robot's text carries its mention lists; markdown writes the user IDs
// into the text.
func TestRobotMessages(t *testing.T) {
	a := newAPI(t)
	robot := func(extra string) sinks.Sink {
		return sinktest.MustBuild(t, &Config{}, `wecom: {webhook: '`+a.URL+`/cgi-bin/webhook/send?key=k'`+extra+`}`)
	}
	a.answer = func(string) string { return `{"errcode":0,"errmsg":"ok"}` }
	if err := robot(`, content: '{{ .Reason }}', mentionedList: ['{{ index .InvolvedObject.Labels "owner" }}'], mentionedMobileList: ['13800000000']`).Send(context.Background(), testenv.SampleEvent()); err != nil {
		t.Fatal(err)
	}
	if got, want := a.last(t), `{"msgtype":"text","text":{"content":"BackOff","mentioned_list":["payments"],"mentioned_mobile_list":["13800000000"]}}`; got != want {
		t.Errorf("text:\n%s\nwant\n%s", got, want)
	}
	if err := robot(`, msgType: markdown, content: '**{{ .Reason }}**', mentionedList: [payments]`).Send(context.Background(), testenv.SampleEvent()); err != nil {
		t.Fatal(err)
	}
	if got, want := a.last(t), `{"markdown":{"content":"**BackOff** \u003c@payments\u003e"},"msgtype":"markdown"}`; got != want {
		t.Errorf("markdown:\n%s\nwant\n%s", got, want)
	}
}

// 45009 (rate limit) is retried after at least a minute, -1 (busy)
// retried; a token refused for good (40001, a wrong secret) and other
// errcodes are permanent.
func TestAnswers(t *testing.T) {
	a := newAPI(t)
	s := appSink(t, a, "")
	for _, c := range []struct {
		answer    string
		retryable bool
		class     sinks.Class
		wait      time.Duration
	}{
		{`{"errcode":45009,"errmsg":"api freq out of limit"}`, true, sinks.ClassRateLimited, time.Minute},
		{`{"errcode":-1,"errmsg":"system busy"}`, true, sinks.ClassHTTP5xx, 0},
		{`{"errcode":81013,"errmsg":"user & party & tag all invalid"}`, false, sinks.ClassRejected, 0},
	} {
		a.answer = func(string) string { return c.answer }
		err := s.Send(context.Background(), testenv.SampleEvent())
		class, retryable, wait := sinks.Classify(err)
		if err == nil || class != c.class || retryable != c.retryable || wait < c.wait {
			t.Errorf("%s: %v (%s, retryable %v, wait %s)", c.answer, err, class, retryable, wait)
		}
	}
	a.tokenErr = `{"errcode":40001,"errmsg":"invalid credential"}`
	err := appSink(t, a, "").Send(context.Background(), testenv.SampleEvent())
	if _, retryable, _ := sinks.Classify(err); err == nil || retryable || !strings.Contains(err.Error(), "check corpID and corpSecret") || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("a refused secret: %v", err)
	}
}

func TestBuildErrors(t *testing.T) {
	for src, want := range map[string]string{
		`wecom: {}`: "set webhook (a group robot) or corpID",
		`wecom: {webhook: 'https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k', corpID: c}`: "not both",
		`wecom: {corpID: c, agentID: 1}`: "needs corpID, corpSecret and agentID",
		`wecom: {webhook: 'https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k', toUser: [a]}`:   "toUser, toParty and toTag are for an application",
		`wecom: {webhook: 'https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k', msgType: news}`: `msgType: "news"`,
		`wecom: {corpID: c, corpSecret: s, agentID: 1, apiURL: 'http://qyapi.example.com'}`:         "apiURL: must be https://",
	} {
		if _, err := sinktest.Build(t, &Config{}, src); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %s", src, err, want)
		}
	}
}

// BenchmarkSend: application messages to an in-process WeCom API (its CPU
// is in the figure); the token is fetched once.
func BenchmarkSend(b *testing.B) {
	a := &wecomAPI{answer: func(string) string { return `{"errcode":0,"errmsg":"ok"}` }}
	a.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		if r.URL.Path == "/cgi-bin/gettoken" {
			io.WriteString(w, `{"errcode":0,"access_token":"t","expires_in":7200}`)
			return
		}
		io.WriteString(w, `{"errcode":0,"errmsg":"ok"}`)
	}))
	defer a.Close()
	s := sinktest.MustBuild(b, &Config{}, `wecom: {apiURL: '`+a.URL+`', corpID: ww1, corpSecret: s3cret, agentID: 1000002, toUser: [alice, bob]}`)
	ev := testenv.SampleEvent()
	sinktest.BenchSend(b, s, func(int) *event.EnhancedEvent { return ev })
}

// Recipients from templates that all render empty fail the event (no
// channel) instead of sending to @all; a long text is cut to WeCom's 2048
// bytes.
func TestEmptyRecipientsAndLongText(t *testing.T) {
	a := newAPI(t)
	err := appSink(t, a, `, toUser: ['{{ index .InvolvedObject.Labels "missing" }}']`).Send(context.Background(), testenv.SampleEvent())
	if class, retryable, _ := sinks.Classify(err); err == nil || class != sinks.ClassNoChannel || retryable || len(a.bodies) != 0 {
		t.Errorf("empty recipients: %v (%s), %d messages", err, class, len(a.bodies))
	}
	ev := testenv.SampleEvent()
	ev.Message = strings.Repeat("事件", 2000)
	if err := appSink(t, a, `, content: '{{ .Message }}'`).Send(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	var body struct{ Text struct{ Content string } }
	a.mu.Lock()
	json.Unmarshal(mustJSON(a.bodies[0]), &body)
	a.mu.Unlock()
	if n := len(body.Text.Content); n > 2048 || n < 2040 || !strings.HasSuffix(body.Text.Content, "…") {
		t.Errorf("content of %d bytes", n)
	}
}

func mustJSON(v any) []byte { b, _ := json.Marshal(v); return b }
