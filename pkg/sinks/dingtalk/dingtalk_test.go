package dingtalk

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eventide/eventide/internal/testenv"
	"github.com/eventide/eventide/internal/testenv/sinktest"
	"github.com/eventide/eventide/pkg/kube/event"
	"github.com/eventide/eventide/pkg/sinks"
)

const testSecret = "SEC0123456789abcdef"

// The signature of a fixed timestamp, computed outside Go (Python's hmac
// module) and written down.
func TestSignVector(t *testing.T) {
	if got, want := Sign("1700000000000", testSecret), "TSZbRFUuvaSQaRKUpF970OPCb2/LcQAP3wOvwZIzBZk="; got != want {
		t.Errorf("Sign = %s, want %s", got, want)
	}
}

// robot is a DingTalk robot: it checks the access token and, with a
// secret, the timestamp and signature (computed here with its own code),
// records each message and answers with answer.
type robot struct {
	*httptest.Server
	t      *testing.T
	mu     sync.Mutex
	bodies []map[string]any
	answer string
	status int
}

func newRobot(t *testing.T) *robot {
	r := &robot{t: t, answer: `{"errcode":0,"errmsg":"ok"}`, status: 200}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		q := req.URL.Query()
		if q.Get("access_token") != "tok" {
			t.Errorf("access_token %q", q.Get("access_token"))
		}
		if ts := q.Get("timestamp"); ts != "" {
			ms, _ := strconv.ParseInt(ts, 10, 64)
			if d := time.Since(time.UnixMilli(ms)); d < 0 || d > time.Minute {
				t.Errorf("timestamp %s is not now in milliseconds", ts)
			}
			mac := hmac.New(sha256.New, []byte(testSecret))
			io.WriteString(mac, ts+"\n"+testSecret)
			if want := base64.StdEncoding.EncodeToString(mac.Sum(nil)); q.Get("sign") != want {
				t.Errorf("sign %q, want %q", q.Get("sign"), want)
			}
		}
		var body map[string]any
		b, _ := io.ReadAll(req.Body)
		if err := json.Unmarshal(b, &body); err != nil {
			t.Errorf("body is not JSON: %s", b)
		}
		r.mu.Lock()
		r.bodies = append(r.bodies, body)
		answer, status := r.answer, r.status
		r.mu.Unlock()
		w.WriteHeader(status)
		io.WriteString(w, answer)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *robot) set(status int, answer string) {
	r.mu.Lock()
	r.status, r.answer = status, answer
	r.mu.Unlock()
}

func (r *robot) last() map[string]any {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.bodies) == 0 {
		r.t.Fatal("no message")
	}
	return r.bodies[len(r.bodies)-1]
}

func asJSON(v any) string { b, _ := json.Marshal(v); return string(b) }

// A signed text message mentions the owner by the mobile number in the
// pod's label; a missing label mentions nobody.
func TestTextSignedWithMentions(t *testing.T) {
	r := newRobot(t)
	s := sinktest.MustBuild(t, &Config{}, `dingtalk: {webhook: '`+r.URL+`/robot/send?access_token=tok', secret: `+testSecret+`,
  at: {mobiles: ['{{ index .InvolvedObject.Labels "owner-phone" }}', '{{ index .InvolvedObject.Labels "missing" }}']}}`)
	ev := testenv.SampleEvent()
	ev.InvolvedObject.Labels["owner-phone"] = "13800000000"
	if err := s.Send(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	got := asJSON(r.last())
	for _, want := range []string{`"msgtype":"text"`, `"at":{"atMobiles":["13800000000"]}`,
		`"content":"[prod-eu-1] Warning BackOff: Pod shop/web-1\nBack-off restarting failed container \"app\" \u003cx\u003e"`} {
		if !strings.Contains(got, want) {
			t.Errorf("message lacks %s:\n%s", want, got)
		}
	}
}

// Markdown names the mentioned in its text (DingTalk highlights only
// those); an action card has its button.
func TestMarkdownAndActionCard(t *testing.T) {
	r := newRobot(t)
	s := sinktest.MustBuild(t, &Config{}, `dingtalk: {webhook: '`+r.URL+`/robot/send?access_token=tok', msgType: markdown,
  title: '{{ .Reason }}', text: '**{{ .InvolvedObject.Name }}**', at: {userIds: [ops-lead], all: true}}`)
	if err := s.Send(context.Background(), testenv.SampleEvent()); err != nil {
		t.Fatal(err)
	}
	if got, want := asJSON(r.last()), `{"at":{"atUserIds":["ops-lead"],"isAtAll":true},"markdown":{"text":"**web-1** @ops-lead","title":"BackOff"},"msgtype":"markdown"}`; got != want {
		t.Errorf("markdown:\n%s\nwant\n%s", got, want)
	}
	s = sinktest.MustBuild(t, &Config{}, `dingtalk: {webhook: '`+r.URL+`/robot/send?access_token=tok', msgType: actionCard,
  singleURL: 'https://grafana.example.com/d/pods?var-pod={{ .InvolvedObject.Name }}'}`)
	if err := s.Send(context.Background(), testenv.SampleEvent()); err != nil {
		t.Fatal(err)
	}
	if got, want := asJSON(r.last()["actionCard"]), `"singleURL":"https://grafana.example.com/d/pods?var-pod=web-1"`; !strings.Contains(got, want) {
		t.Errorf("action card %s lacks %s", got, want)
	}
}

// errcode 130101 (too fast) is retried after at least a minute; a 5xx
// is retried; any other errcode, or an answer that is not DingTalk's, is
// permanent with the robot's words.
func TestAnswers(t *testing.T) {
	r := newRobot(t)
	s := sinktest.MustBuild(t, &Config{}, `dingtalk: {webhook: '`+r.URL+`/robot/send?access_token=tok'}`)
	for _, c := range []struct {
		status    int
		answer    string
		retryable bool
		class     sinks.Class
		wait      time.Duration
		says      string
	}{
		{200, `{"errcode":130101,"errmsg":"send too fast, exceed 20 times per minute"}`, true, sinks.ClassRateLimited, time.Minute, "send too fast"},
		{502, `bad gateway`, true, sinks.ClassHTTP5xx, 0, "HTTP 502"},
		{200, `{"errcode":310000,"errmsg":"sign not match"}`, false, sinks.ClassRejected, 0, "errcode 310000: sign not match"},
		{200, `<html>login</html>`, false, sinks.ClassRejected, 0, "not the service's JSON"},
	} {
		r.set(c.status, c.answer)
		err := s.Send(context.Background(), testenv.SampleEvent())
		class, retryable, wait := sinks.Classify(err)
		if err == nil || class != c.class || retryable != c.retryable || wait < c.wait || !strings.Contains(err.Error(), c.says) {
			t.Errorf("%d %s: %v (%s, retryable %v, wait %s)", c.status, c.answer, err, class, retryable, wait)
		}
	}
}

func TestBuildErrors(t *testing.T) {
	_, err := sinktest.Build(t, &Config{}, `dingtalk: {webhook: 'http://oapi.dingtalk.com/robot/send', msgType: card, at: {mobiles: ['{{ .Bad']}}`)
	for _, want := range []string{"receivers[0].dingtalk.webhook: must be https://", "receivers[0].dingtalk.msgType: \"card\"", "receivers[0].dingtalk.at.mobiles[0]:"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %s: %v", want, err)
		}
	}
	if _, err := sinktest.Build(t, &Config{}, `dingtalk: {webhook: 'https://oapi.dingtalk.com/robot/send', msgType: markdown, content: x}`); err == nil || !strings.Contains(err.Error(), "content: for msgType text") {
		t.Errorf("content with markdown: %v", err)
	}
	if _, err := sinktest.Build(t, &Config{}, `dingtalk: {webhook: 'https://oapi.dingtalk.com/robot/send', msgType: actionCard}`); err == nil || !strings.Contains(err.Error(), "singleURL: required") {
		t.Errorf("action card without a URL: %v", err)
	}
}

// BenchmarkSend: signed text messages with a mention to an in-process
// robot (its CPU, decoding and checking each, is in the figure).
func BenchmarkSend(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		io.WriteString(w, `{"errcode":0,"errmsg":"ok"}`)
	}))
	defer srv.Close()
	s := sinktest.MustBuild(b, &Config{}, `dingtalk: {webhook: '`+srv.URL+`/robot/send?access_token=tok', secret: `+testSecret+`, at: {mobiles: ['{{ index .InvolvedObject.Labels "owner" }}']}}`)
	ev := testenv.SampleEvent()
	sinktest.BenchSend(b, s, func(int) *event.EnhancedEvent { return ev })
}
