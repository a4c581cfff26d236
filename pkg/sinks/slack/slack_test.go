package slack

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/eventide/eventide/internal/testenv"
	"github.com/eventide/eventide/internal/testenv/sinktest"
	"github.com/eventide/eventide/pkg/kube/event"
	"github.com/eventide/eventide/pkg/sinks"
)

func build(t testing.TB, src string) (sinks.Sink, error) { return sinktest.Build(t, &Config{}, src) }

func mustBuild(t testing.TB, src string) sinks.Sink { return sinktest.MustBuild(t, &Config{}, src) }

func newSlackServer(t *testing.T) *testenv.SlackServer {
	s := testenv.NewSlackServer()
	t.Cleanup(s.Stop)
	return s
}

func slackSinkFor(t *testing.T, srv *testenv.SlackServer, extra string) sinks.Sink {
	return mustBuild(t, `
slack:
  token: xoxb-test-token
  apiURL: `+srv.GetAPIURL()+`
  channel: '{{ with .InvolvedObject.Labels.owner }}#{{ . }}-alerts{{ end }}'
  fallbackChannel: '#platform-alerts'
  title: '{{ .Reason }}: {{ .InvolvedObject.Kind }} {{ .InvolvedObject.Namespace }}/{{ .InvolvedObject.Name }}'
  message: '{{ .Message }}'
  color: '{{ if eq .Type "Warning" }}danger{{ else }}good{{ end }}'
  footer: '{{ .ClusterName }}'
  author_name: eventide
`+extra)
}

func TestSlackPerOwnerChannelAndGoldenPayload(t *testing.T) {
	srv := newSlackServer(t)
	s := slackSinkFor(t, srv, `  fields:
    workload: '{{ with .InvolvedObject.Workload }}{{ .Kind }}/{{ .Name }}{{ end }}'
    count: '{{ .GetCount }}'
`)
	ev := testenv.SampleEvent()
	if err := s.Send(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	orphan := testenv.SampleEvent()
	delete(orphan.InvolvedObject.Labels, "owner")
	if err := s.Send(context.Background(), orphan); err != nil {
		t.Fatal(err)
	}
	posts := srv.Posts()
	if len(posts) != 2 || posts[0].Get("channel") != "#payments-alerts" || posts[1].Get("channel") != "#platform-alerts" {
		t.Fatalf("channels: %v", posts)
	}
	var att []map[string]any
	if err := json.Unmarshal([]byte(posts[0].Get("attachments")), &att); err != nil {
		t.Fatal(err)
	}
	got, _ := json.MarshalIndent(map[string]any{"channel": posts[0].Get("channel"), "text": posts[0].Get("text"), "attachments": att}, "", "  ")
	testenv.CheckGolden(t, "slack-postmessage.golden.json", got)
}

// Title and colour are sent whether or not fields are configured (the old
// tool dropped them without fields).
func TestSlackTitleWithoutFields(t *testing.T) {
	srv := newSlackServer(t)
	if err := slackSinkFor(t, srv, "").Send(context.Background(), testenv.SampleEvent()); err != nil {
		t.Fatal(err)
	}
	var att []map[string]any
	if err := json.Unmarshal([]byte(srv.Posts()[0].Get("attachments")), &att); err != nil {
		t.Fatal(err)
	}
	if att[0]["title"] != "BackOff: Pod shop/web-1" || att[0]["color"] != "danger" {
		t.Errorf("attachment %v", att)
	}
}

func TestSlackFailures(t *testing.T) {
	srv := newSlackServer(t)
	s := slackSinkFor(t, srv, "")
	for _, tc := range []struct {
		name      string
		answer    func(w http.ResponseWriter)
		retryable bool
		after     time.Duration
	}{
		{"unknown channel", func(w http.ResponseWriter) { _, _ = w.Write([]byte(`{"ok":false,"error":"channel_not_found"}`)) }, false, 0},
		{"revoked token", func(w http.ResponseWriter) { _, _ = w.Write([]byte(`{"ok":false,"error":"token_revoked"}`)) }, false, 0},
		{"rate limited", func(w http.ResponseWriter) {
			w.Header().Set("Retry-After", "7")
			w.WriteHeader(http.StatusTooManyRequests)
		}, true, 7 * time.Second},
		{"server error", func(w http.ResponseWriter) { w.WriteHeader(http.StatusBadGateway) }, true, 0},
		{"absurd Retry-After", func(w http.ResponseWriter) {
			w.Header().Set("Retry-After", "7766276400")
			w.WriteHeader(http.StatusTooManyRequests)
		}, true, sinks.RetryAfterCeiling},
	} {
		srv.Answer(func(w http.ResponseWriter, _ url.Values) bool { tc.answer(w); return true })
		err := s.Send(context.Background(), testenv.SampleEvent())
		_, retry, after := sinks.Classify(err)
		if retry != tc.retryable || after != tc.after {
			t.Errorf("%s: retryable %v after %v", tc.name, retry, after)
		}
		if strings.Contains(err.Error(), "h0m") || strings.Contains(err.Error(), "2157299h") {
			t.Errorf("%s: the error quotes a wait the worker does not make: %v", tc.name, err)
		}
	}
	// No channel at all is a counted, permanent failure.
	noFallback := mustBuild(t, "slack: {token: x, apiURL: "+srv.GetAPIURL()+", channel: '{{ .InvolvedObject.Labels.nope }}'}")
	if class, retry, _ := sinks.Classify(noFallback.Send(context.Background(), testenv.SampleEvent())); class != "no_channel" || retry {
		t.Errorf("empty channel: %s %v", class, retry)
	}
}

func TestSlackTemplateErrorIsNotRetried(t *testing.T) {
	srv := newSlackServer(t)
	for _, key := range []string{"channel", "message", "title", "color", "fields: {owner"} {
		t.Run(key, func(t *testing.T) {
			cfg := "slack: {token: xoxb-test-token, apiURL: " + srv.GetAPIURL() + ", channel: '#c', " + key + `: '{{ fail "broken" }}'`
			if strings.HasPrefix(key, "fields") {
				cfg += "}"
			}
			if key == "channel" {
				cfg = strings.Replace(cfg, "channel: '#c', ", "", 1)
			}
			sinktest.RequireTemplateError(t, mustBuild(t, cfg+"}"))
		})
	}
}

// The bot token goes to apiURL: plain http is refused unless loopback.
func TestSlackRefusesPlainHTTPAPIURL(t *testing.T) {
	if _, err := build(t, "slack: {token: x, channel: '#c', apiURL: 'http://slack.example.com/api/'}"); err == nil || !strings.Contains(err.Error(), "apiURL: must be https://") {
		t.Errorf("plain http accepted: %v", err)
	}
	for _, ok := range []string{"https://slack.example.com/api/", "http://127.0.0.1:8080/api/", "http://localhost:1/api/"} {
		if _, err := build(t, "slack: {token: x, channel: '#c', apiURL: '"+ok+"'}"); err != nil {
			t.Errorf("%s refused: %v", ok, err)
		}
	}
}

// A huge answer is not read into memory: the send fails.
func TestSlackHugeAnswerFails(t *testing.T) {
	srv := newSlackServer(t)
	srv.Answer(func(w http.ResponseWriter, _ url.Values) bool {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"ok":true,"x":"`)
		chunk := strings.Repeat("x", 64<<10)
		for i := 0; i < 512; i++ { // 32 MB
			if _, err := io.WriteString(w, chunk); err != nil {
				return true
			}
		}
		_, _ = io.WriteString(w, `"}`) // a valid answer, were it read whole
		return true
	})
	err := mustBuild(t, "slack: {token: x, channel: '#c', apiURL: "+srv.GetAPIURL()+"}").Send(context.Background(), testenv.SampleEvent())
	if err == nil {
		t.Error("a 32 MB answer counted as delivered")
	}
}

func TestSlackFieldsCutToLimits(t *testing.T) {
	srv := newSlackServer(t)
	s := mustBuild(t, "slack: {token: x, channel: '#c', apiURL: "+srv.GetAPIURL()+", fields: {long: '{{ repeat 5000 \"é\" }}'}}")
	if err := s.Send(context.Background(), testenv.SampleEvent()); err != nil {
		t.Fatal(err)
	}
	var att []struct {
		Fields []struct{ Title, Value string }
	}
	if err := json.Unmarshal([]byte(srv.Posts()[0].Get("attachments")), &att); err != nil {
		t.Fatal(err)
	}
	if v := att[0].Fields[0].Value; utf8.RuneCountInString(v) != slackMaxFieldValue || !strings.HasSuffix(v, "…") {
		t.Errorf("field value of %d runes", utf8.RuneCountInString(v))
	}
}

// Title, footer and author are cut too: a 2 MB title went out before.
func TestSlackAttachmentTextCutToLimits(t *testing.T) {
	srv := newSlackServer(t)
	s := mustBuild(t, "slack: {token: x, channel: '#c', apiURL: "+srv.GetAPIURL()+
		", title: '{{ repeat 500000 \"t\" }}', footer: '{{ repeat 5000 \"f\" }}', author_name: '{{ repeat 5000 \"a\" }}'}")
	if err := s.Send(context.Background(), testenv.SampleEvent()); err != nil {
		t.Fatal(err)
	}
	var att []struct {
		Title, Footer string
		AuthorName    string `json:"author_name"`
	}
	if err := json.Unmarshal([]byte(srv.Posts()[0].Get("attachments")), &att); err != nil {
		t.Fatal(err)
	}
	if n := utf8.RuneCountInString(att[0].Title); n != slackMaxTitle {
		t.Errorf("title of %d runes, want %d", n, slackMaxTitle)
	}
	if n, m := utf8.RuneCountInString(att[0].Footer), utf8.RuneCountInString(att[0].AuthorName); n != slackMaxFooter || m != slackMaxFooter {
		t.Errorf("footer of %d and author of %d runes, want %d", n, m, slackMaxFooter)
	}
}

// A grouped notification posts once, then edits that message with
// chat.update (the default message shows the count); with threadReplies
// the edit also answers in the message's thread.
func TestSlackEditsGroupMessage(t *testing.T) {
	srv := newSlackServer(t)
	s := mustBuild(t, "slack: {token: xoxb-t, apiURL: "+srv.GetAPIURL()+", channel: '#alerts', threadReplies: true}").(sinks.Updater)
	ev := testenv.SampleEvent()
	ev.Group = &event.Group{Key: "k", Status: "new", Count: 1}
	ref, err := s.Post(context.Background(), ev)
	if err != nil {
		t.Fatal(err)
	}
	ev.Group = &event.Group{Key: "k", Status: "update", Count: 14}
	if err := s.Update(context.Background(), ref, ev); err != nil {
		t.Fatal(err)
	}
	updates, _ := srv.Updates()
	posts := srv.Posts()
	if len(updates) != 1 || !strings.HasSuffix(updates[0].Get("text"), "(×14)") || ref != updates[0].Get("channel")+"/"+updates[0].Get("ts") {
		t.Errorf("updates %v for ref %s", updates, ref)
	}
	if len(posts) != 2 || posts[1].Get("thread_ts") != updates[0].Get("ts") || !strings.HasPrefix(posts[1].Get("text"), "Back-off restarting") || strings.Contains(posts[1].Get("text"), "×") {
		t.Errorf("posts %v: want the message, then a reply in its thread", posts)
	}
	ev.Group = &event.Group{Key: "k", Status: "quiet", Count: 14, LastSeen: time.Date(2026, 11, 29, 14, 2, 0, 0, time.UTC)}
	if err := s.Update(context.Background(), ref, ev); err != nil {
		t.Fatal(err)
	}
	if updates, _ = srv.Updates(); !strings.HasSuffix(updates[1].Get("text"), "(×14; none since 14:02 UTC)") || len(srv.Posts()) != 2 {
		t.Errorf("quiet edit %q (%d posts): want the count and since when, and no thread reply", updates[1].Get("text"), len(srv.Posts()))
	}
	if err := s.Update(context.Background(), "#alerts/1.000009", ev); err == nil {
		t.Error("editing a message Slack does not know succeeded")
	} else if class, retry, _ := sinks.Classify(err); retry {
		t.Errorf("%v: %s retryable, want permanent (post anew)", err, class)
	}
}
