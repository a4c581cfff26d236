package feishu

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

const testSecret = "feishu-secret"

// The signature of a fixed timestamp, computed outside Go (Python's hmac
// module) and written down.
func TestSignVector(t *testing.T) {
	if got, want := Sign("1700000000", testSecret), "OrBzY1Y01Gq+HgJsl+7OfWcMVwc7YocohQm5iiZwjhU="; got != want {
		t.Errorf("Sign = %s, want %s", got, want)
	}
}

// bot is a Feishu custom bot: it checks a signed body's timestamp and
// signature (with its own code), records each body and answers answer.
type bot struct {
	*httptest.Server
	mu     sync.Mutex
	raw    [][]byte
	answer string
}

func newBot(t *testing.T) *bot {
	b := &bot{answer: `{"code":0,"msg":"success","data":{}}`}
	b.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		var body struct{ Timestamp, Sign string }
		if err := json.Unmarshal(raw, &body); err != nil {
			t.Errorf("body is not JSON: %s", raw)
		}
		if body.Timestamp != "" {
			sec, _ := strconv.ParseInt(body.Timestamp, 10, 64)
			if d := time.Since(time.Unix(sec, 0)); d < -time.Second || d > time.Minute {
				t.Errorf("timestamp %s is not now in seconds", body.Timestamp)
			}
			mac := hmac.New(sha256.New, []byte(body.Timestamp+"\n"+testSecret))
			if want := base64.StdEncoding.EncodeToString(mac.Sum(nil)); body.Sign != want {
				t.Errorf("sign %q, want %q", body.Sign, want)
			}
		}
		b.mu.Lock()
		b.raw = append(b.raw, raw)
		answer := b.answer
		b.mu.Unlock()
		io.WriteString(w, answer)
	}))
	t.Cleanup(b.Close)
	return b
}

func (b *bot) last(t *testing.T) map[string]any {
	b.mu.Lock()
	defer b.mu.Unlock()
	var v map[string]any
	if len(b.raw) == 0 || json.Unmarshal(b.raw[len(b.raw)-1], &v) != nil {
		t.Fatal("no message")
	}
	delete(v, "timestamp")
	delete(v, "sign")
	return v
}

func asJSON(v any) string { b, _ := json.Marshal(v); return string(b) }

func build(t *testing.T, b *bot, extra string) sinks.Sink {
	return sinktest.MustBuild(t, &Config{}, `feishu: {webhook: '`+b.URL+`/open-apis/bot/v2/hook/x'`+extra+`}`)
}

// The three message types, signed.
func TestMessages(t *testing.T) {
	b := newBot(t)
	for extra, want := range map[string]string{
		`, text: '{{ .Reason }} on {{ .InvolvedObject.Name }}'`:                                                       `{"content":{"text":"BackOff on web-1"},"msg_type":"text"}`,
		`, msgType: post, title: '{{ .Reason }}', text: '{{ .Message }}'`:                                             `{"content":{"post":{"zh_cn":{"content":[[{"tag":"text","text":"Back-off restarting failed container \"app\" \u003cx\u003e"}]],"title":"BackOff"}}},"msg_type":"post"}`,
		`, msgType: interactive, card: {header: {title: {tag: plain_text, content: '{{ .Reason }}'}, template: red}}`: `{"card":{"header":{"template":"red","title":{"content":"BackOff","tag":"plain_text"}}},"msg_type":"interactive"}`,
	} {
		if err := build(t, b, `, secret: `+testSecret+extra).Send(context.Background(), testenv.SampleEvent()); err != nil {
			t.Fatal(err)
		}
		if got := asJSON(b.last(t)); got != want {
			t.Errorf("%s:\n%s\nwant\n%s", extra, got, want)
		}
	}
}

// A message over 20 KB is cut to fit, still valid JSON.
func TestLongMessageCut(t *testing.T) {
	b := newBot(t)
	ev := testenv.SampleEvent()
	ev.Message = strings.Repeat("日志\"<", 10000)
	if err := build(t, b, `, text: '{{ .Message }}'`).Send(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	b.mu.Lock()
	raw := b.raw[0]
	b.mu.Unlock()
	text := b.last(t)["content"].(map[string]any)["text"].(string)
	if len(raw) > MaxBodyBytes || len(raw) < MaxBodyBytes-1000 || !strings.HasSuffix(text, "…") || !strings.HasPrefix(text, "日志") {
		t.Errorf("%d bytes sent (at most %d), text ends %q", len(raw), MaxBodyBytes, text[len(text)-10:])
	}
}

// 11232 (rate limit) is retried; 19021 (bad signature) and other codes
// are permanent.
func TestAnswers(t *testing.T) {
	b := newBot(t)
	s := build(t, b, "")
	for _, c := range []struct {
		answer    string
		retryable bool
		class     sinks.Class
		says      string
	}{
		{`{"code":11232,"msg":"frequency limited psm[lark.oapi.app_platform_runtime]appID[1]"}`, true, sinks.ClassRateLimited, "frequency limited"},
		{`{"code":19021,"msg":"sign match fail or timestamp is not within one hour from current time"}`, false, sinks.ClassRejected, "check secret"},
		{`{"code":19024,"msg":"Key Words Not Found"}`, false, sinks.ClassRejected, "Key Words Not Found"},
		{`{"StatusCode":0,"StatusMessage":"success"}`, false, "", ""},
	} {
		b.mu.Lock()
		b.answer = c.answer
		b.mu.Unlock()
		err := s.Send(context.Background(), testenv.SampleEvent())
		class, retryable, _ := sinks.Classify(err)
		if c.says == "" && err != nil || c.says != "" && (err == nil || class != c.class || retryable != c.retryable || !strings.Contains(err.Error(), c.says)) {
			t.Errorf("%s: %v (%s, retryable %v)", c.answer, err, class, retryable)
		}
	}
}

func TestBuildErrors(t *testing.T) {
	_, err := sinktest.Build(t, &Config{}, `feishu: {webhook: 'http://open.feishu.cn/hook', msgType: image, card: {a: b}, text: '{{ .Bad'}`)
	for _, want := range []string{"feishu.webhook: must be https://", `feishu.msgType: "image"`, "feishu.card: only with msgType interactive", "feishu.text:"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %s: %v", want, err)
		}
	}
}

// BenchmarkSend: signed interactive cards to an in-process bot (its CPU
// is in the figure).
func BenchmarkSend(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		io.WriteString(w, `{"code":0,"msg":"success","data":{}}`)
	}))
	defer srv.Close()
	s := sinktest.MustBuild(b, &Config{}, `feishu: {webhook: '`+srv.URL+`/hook', secret: `+testSecret+`, msgType: interactive}`)
	ev := testenv.SampleEvent()
	sinktest.BenchSend(b, s, func(int) *event.EnhancedEvent { return ev })
}
