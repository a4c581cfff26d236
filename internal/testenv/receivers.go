package testenv

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/slack-go/slack/slacktest"
)

// SlackServer is slacktest's fake Slack API with chat.postMessage and
// chat.update recorded (slacktest records neither) and postMessage's
// answer settable. Each post gets its own ts; an update of a ts never
// posted is answered message_not_found, as Slack does.
type SlackServer struct {
	*slacktest.Server
	mu        sync.Mutex
	posts     []url.Values
	updates   []url.Values
	updatedAt []time.Time
	answer    func(w http.ResponseWriter, form url.Values) bool
}

// NewSlackServer starts one on loopback; Stop ends it.
func NewSlackServer() *SlackServer {
	s := &SlackServer{}
	s.Server = slacktest.NewTestServer(func(c slacktest.Customize) {
		c.Handle("/chat.postMessage", func(w http.ResponseWriter, r *http.Request) {
			if err := r.ParseForm(); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			s.mu.Lock()
			answer := s.answer
			s.mu.Unlock()
			if answer != nil && answer(w, r.PostForm) {
				return
			}
			s.mu.Lock()
			s.posts = append(s.posts, r.PostForm)
			ts := fmt.Sprintf("1700000000.%06d", len(s.posts))
			s.mu.Unlock()
			slackAnswer(w, map[string]any{"ok": true, "channel": r.PostForm.Get("channel"), "ts": ts})
		})
		c.Handle("/chat.update", func(w http.ResponseWriter, r *http.Request) {
			if err := r.ParseForm(); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			s.mu.Lock()
			defer s.mu.Unlock()
			var n int
			if _, err := fmt.Sscanf(r.PostForm.Get("ts"), "1700000000.%06d", &n); err != nil || n < 1 || n > len(s.posts) ||
				s.posts[n-1].Get("channel") != r.PostForm.Get("channel") {
				slackAnswer(w, map[string]any{"ok": false, "error": "message_not_found"})
				return
			}
			s.updates = append(s.updates, r.PostForm)
			s.updatedAt = append(s.updatedAt, time.Now())
			slackAnswer(w, map[string]any{"ok": true, "channel": r.PostForm.Get("channel"), "ts": r.PostForm.Get("ts"), "text": r.PostForm.Get("text")})
		})
	})
	s.Start()
	return s
}

func slackAnswer(w http.ResponseWriter, body map[string]any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(body)
}

// Answer makes postMessage answer with f (true: answered) instead of ok.
func (s *SlackServer) Answer(f func(w http.ResponseWriter, form url.Values) bool) {
	s.mu.Lock()
	s.answer = f
	s.mu.Unlock()
}

// Posts returns the postMessage forms received so far.
func (s *SlackServer) Posts() []url.Values {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]url.Values(nil), s.posts...)
}

// Updates returns the chat.update forms of known messages so far, and
// when each came.
func (s *SlackServer) Updates() ([]url.Values, []time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]url.Values(nil), s.updates...), append([]time.Time(nil), s.updatedAt...)
}

// OpsgenieServer answers Opsgenie's alert API as Opsgenie does (202 and a
// request id) and records what the real SDK sent. Its Host is what the
// receiver's URL takes.
type OpsgenieServer struct {
	*httptest.Server
	mu      sync.Mutex
	bodies  []map[string]any
	details []OpsgenieDetails
	auth    []string
	status  int
}

// NewOpsgenieServer starts one on loopback; Close ends it.
func NewOpsgenieServer() *OpsgenieServer {
	s := &OpsgenieServer{status: http.StatusAccepted}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		// Add details addresses the alert by its alias, one path segment.
		alias, details := strings.CutSuffix(strings.TrimPrefix(r.URL.Path, "/v2/alerts/"), "/details")
		details = details && !strings.Contains(alias, "/")
		switch {
		case r.Method != http.MethodPost || (r.URL.Path != "/v2/alerts" && !details):
			http.Error(w, "unexpected "+r.Method+" "+r.URL.Path, http.StatusNotFound)
			return
		case details && r.URL.Query().Get("identifierType") != "alias":
			http.Error(w, "details by alias need identifierType=alias", http.StatusBadRequest)
			return
		}
		if s.status != http.StatusAccepted {
			w.WriteHeader(s.status)
			_, _ = io.WriteString(w, `{"message":"failing on purpose","took":0.001,"requestId":"r-1"}`)
			return
		}
		var body map[string]any
		b, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(b, &body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if details {
			s.details = append(s.details, OpsgenieDetails{Alias: alias, Body: body})
		} else {
			s.bodies = append(s.bodies, body)
		}
		s.auth = append(s.auth, r.Header.Get("Authorization"))
		w.WriteHeader(http.StatusAccepted)
		_, _ = io.WriteString(w, `{"result":"Request will be processed","took":0.1,"requestId":"43a29c5c-3dbf-4fa4-9c26-f4f71023e120"}`)
	}))
	return s
}

// OpsgenieDetails is one add-details request: the alert's alias, as the
// path carried it decoded, and the body.
type OpsgenieDetails struct {
	Alias string
	Body  map[string]any
}

// Details returns the add-details requests so far.
func (s *OpsgenieServer) Details() []OpsgenieDetails {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]OpsgenieDetails(nil), s.details...)
}

// Host is the server's host:port, as the opsgenie receiver's URL.
func (s *OpsgenieServer) Host() string { return strings.TrimPrefix(s.URL, "http://") }

// SetStatus makes the server answer code instead of 202.
func (s *OpsgenieServer) SetStatus(code int) {
	s.mu.Lock()
	s.status = code
	s.mu.Unlock()
}

// Alerts returns the create-alert bodies and Authorization headers received.
func (s *OpsgenieServer) Alerts() (bodies []map[string]any, auth []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]map[string]any(nil), s.bodies...), append([]string(nil), s.auth...)
}

// KinesisClient talks to a local Kinesis server with test credentials.
func KinesisClient(endpoint string) *kinesis.Client {
	return kinesis.New(kinesis.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDEVENTIDETEST", "eventide-test-secret", ""),
	})
}

// CreateKinesisStream creates a one-shard stream and waits until it is active.
func CreateKinesisStream(ctx context.Context, endpoint, stream string) error {
	kc := KinesisClient(endpoint)
	if _, err := kc.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String(stream), ShardCount: aws.Int32(1)}); err != nil {
		return err
	}
	for deadline := time.Now().Add(30 * time.Second); ; {
		out, err := kc.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(stream)})
		if err == nil && out.StreamDescriptionSummary.StreamStatus == types.StreamStatusActive {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("stream %s not active: %v", stream, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ReadKinesis reads stream's only shard from the start until it holds at
// least want records or the deadline passes.
func ReadKinesis(ctx context.Context, endpoint, stream string, want int) ([]types.Record, error) {
	kc := KinesisClient(endpoint)
	shards, err := kc.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String(stream)})
	if err != nil {
		return nil, err
	}
	it, err := kc.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: aws.String(stream),
		ShardId: shards.Shards[0].ShardId, ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
	if err != nil {
		return nil, err
	}
	var recs []types.Record
	iter := it.ShardIterator
	for deadline := time.Now().Add(30 * time.Second); len(recs) < want && time.Now().Before(deadline); {
		out, err := kc.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: iter})
		if err != nil {
			return recs, err
		}
		recs = append(recs, out.Records...)
		iter = out.NextShardIterator
		if len(out.Records) == 0 {
			time.Sleep(20 * time.Millisecond)
		}
	}
	return recs, nil
}
