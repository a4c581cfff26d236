package runtime

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"testing/synctest"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/eventide/eventide/internal/testenv/testevent"
	"github.com/eventide/eventide/pkg/sinks"
)

// What the status page reads of a receiver: retrying since the first
// failure, with its class, status and host; idle with a last success once
// delivered; rate-limited while a send waits for delivery.rateLimit.
func TestReceiverStatus(t *testing.T) {
	failure := &sinks.Error{Class: sinks.ClassHTTP5xx, Retryable: true, Status: http.StatusBadGateway,
		Host: "https://hooks.example", Err: errors.New("HTTP 502: the body, not shown")}
	sink := &fakeSink{script: []error{failure}}
	rt, _, _ := newTestRuntime(t, sink, Delivery{})
	retrying, release := make(chan struct{}), make(chan struct{})
	rt.workers["r"].sleep = func(ctx context.Context, _ time.Duration) error {
		close(retrying)
		<-release
		return nil
	}
	if st, _ := rt.Status("r"); st.State != StateIdle || !st.LastSuccess.IsZero() {
		t.Errorf("before any event: %+v", st)
	}
	rt.Enqueue("r", testevent.Named("a"))
	rt.Enqueue("r", testevent.Named("b"))
	rt.Start()
	<-retrying
	st, ok := rt.Status("r")
	if !ok || st.State != StateRetrying || st.RetryingSince.IsZero() || st.Queued != 1 || st.LastFailureAt.IsZero() ||
		st.LastFailure != (sinks.Failure{Class: sinks.ClassHTTP5xx, Status: 502, Host: "https://hooks.example"}) {
		t.Errorf("while retrying: %+v", st)
	}
	close(release)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rt.Shutdown(ctx)
	st, _ = rt.Status("r")
	if st.State != StateIdle || !st.RetryingSince.IsZero() || st.LastSuccess.IsZero() || st.LastFailure.Status != 502 {
		t.Errorf("after delivering: %+v", st)
	}
	if _, ok := rt.Status("nobody"); ok {
		t.Error("a receiver that does not run has a status")
	}
}

func TestReceiverStatusRateLimited(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var d Delivery
		if err := yaml.Unmarshal([]byte("rateLimit: 1/min"), &d); err != nil {
			t.Fatal(err)
		}
		sink := &fakeSink{}
		rt, _, _ := newTestRuntime(t, sink, d)
		rt.Enqueue("r", testevent.Named("a"))
		rt.Enqueue("r", testevent.Named("b"))
		rt.Start()
		synctest.Wait() // a sent, b waits for the limit
		if st, _ := rt.Status("r"); st.State != StateRateLimited || len(sink.delivered()) != 1 {
			t.Errorf("waiting for the rate limit: %+v, delivered %v", st, sink.delivered())
		}
		time.Sleep(time.Minute)
		synctest.Wait()
		if st, _ := rt.Status("r"); st.State != StateIdle || len(sink.delivered()) != 2 {
			t.Errorf("after the wait: %+v, delivered %v", st, sink.delivered())
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		rt.Shutdown(ctx)
	})
}
