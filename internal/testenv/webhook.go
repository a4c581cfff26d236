package testenv

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"time"
)

// Request is one request a Recorder received.
type Request struct {
	URL      string // the request URI: path and query
	Header   http.Header
	Body     []byte
	Received time.Time
}

// Recorder is a webhook endpoint on 127.0.0.1 that records what it gets. Its
// answer can be changed while it runs (to play a failing receiver).
type Recorder struct {
	*httptest.Server
	mu       sync.Mutex
	requests []Request
	status   int
	answer   string        // the body of a 2xx answer
	block    chan struct{} // when set, handlers wait on it (a stuck receiver)
	notify   chan struct{}
}

// NewRecorder starts a recorder answering 200.
func NewRecorder() *Recorder {
	r := &Recorder{status: http.StatusOK, notify: make(chan struct{}, 1)}
	r.Server = httptest.NewServer(http.HandlerFunc(r.serve))
	return r
}

func (r *Recorder) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	block, status, answer := r.block, r.status, r.answer
	r.mu.Unlock()
	if block != nil {
		select {
		case <-block:
		case <-req.Context().Done():
			return
		}
	}
	if status >= 300 {
		w.Header().Set("Retry-After", "0")
		http.Error(w, "failing on purpose", status)
		return
	}
	r.mu.Lock()
	r.requests = append(r.requests, Request{URL: req.URL.RequestURI(), Header: req.Header.Clone(), Body: body, Received: time.Now()})
	r.mu.Unlock()
	select {
	case r.notify <- struct{}{}:
	default:
	}
	w.WriteHeader(status)
	io.WriteString(w, answer)
}

// SetAnswer makes the recorder answer body with its 2xx status (a chat
// robot's {"errcode":0}).
func (r *Recorder) SetAnswer(body string) {
	r.mu.Lock()
	r.answer = body
	r.mu.Unlock()
}

// SetStatus makes the recorder answer code (and not record) from now on.
func (r *Recorder) SetStatus(code int) {
	r.mu.Lock()
	r.status = code
	r.mu.Unlock()
}

// Block makes every request hang until Unblock (or the client gives up).
func (r *Recorder) Block() {
	r.mu.Lock()
	r.block = make(chan struct{})
	r.mu.Unlock()
}

// Unblock releases hanging requests.
func (r *Recorder) Unblock() {
	r.mu.Lock()
	if r.block != nil {
		close(r.block)
		r.block = nil
	}
	r.mu.Unlock()
}

// Requests returns a copy of what was recorded so far.
func (r *Recorder) Requests() []Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Request(nil), r.requests...)
}

// WaitFor polls until cond holds on the recorded requests or ctx's deadline
// passes, and returns the requests it last saw.
func (r *Recorder) WaitFor(ctx context.Context, cond func([]Request) bool) ([]Request, error) {
	for {
		reqs := r.Requests()
		if cond(reqs) {
			return reqs, nil
		}
		select {
		case <-ctx.Done():
			return reqs, fmt.Errorf("condition not met with %d requests: %w", len(reqs), ctx.Err())
		case <-r.notify:
		case <-time.After(50 * time.Millisecond):
		}
	}
}
