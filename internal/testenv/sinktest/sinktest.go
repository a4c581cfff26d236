// Package sinktest builds a receiver's sink from route-file YAML in a sink
// package's tests.
package sinktest

import (
	"context"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"gopkg.in/yaml.v3"

	"github.com/eventide/eventide/internal/testenv"
	"github.com/eventide/eventide/pkg/kube/event"
	"github.com/eventide/eventide/pkg/sinks"
)

// Build decodes src, one receiver type key and its settings as in a route
// file ("webhook: {endpoint: …}"), into settings and builds the sink.
func Build(t testing.TB, settings sinks.Builder, src string) (sinks.Sink, error) {
	t.Helper()
	var doc map[string]yaml.Node
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc) != 1 {
		t.Fatalf("want one receiver type key in %q", src)
	}
	for key, n := range doc {
		if err := n.Decode(settings); err != nil {
			t.Fatal(err)
		}
		return settings.Build("receivers[0]."+key, sinks.Deps{Ctx: context.Background(), Log: zerolog.Nop()})
	}
	panic("unreachable")
}

// MustBuild is Build that fails the test on an error; the sink is closed
// when the test ends.
func MustBuild(t testing.TB, settings sinks.Builder, src string) sinks.Sink {
	t.Helper()
	s, err := Build(t, settings, src)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// StartAWSFake starts an AWS fake for service with the test credentials set,
// and fails the test if any request it got had a bad SigV4 signature.
func StartAWSFake(t *testing.T, service string, respond func(op string, body []byte) (int, string)) *testenv.AWSFake {
	t.Helper()
	testenv.SetAWSTestEnv(t)
	f := testenv.NewAWSFake(service, respond)
	t.Cleanup(func() {
		f.Close()
		if bad := f.SignatureErrors(); len(bad) > 0 {
			t.Errorf("requests with a bad SigV4 signature: %v", bad)
		}
	})
	return f
}

// RequireTemplateError sends the sample event to s, whose config has a
// template that fails at run time, and fails the test unless the error is
// classified "template" and not retryable: retrying cannot fix a template,
// and under the default retry-forever it would stall the receiver.
func RequireTemplateError(t *testing.T, s sinks.Sink) {
	t.Helper()
	err := s.Send(t.Context(), testenv.SampleEvent())
	class, retryable, _ := sinks.Classify(err)
	if err == nil || class != "template" || retryable {
		t.Errorf("send with a failing template: %v, classified %q retryable=%v; want template, not retryable", err, class, retryable)
	}
}

// SendBatch hands evs to s, a BatchSink, in one call with a 30 s deadline
// and returns its error per event.
func SendBatch(s sinks.Sink, evs ...*event.EnhancedEvent) []error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return s.(sinks.BatchSink).SendBatch(ctx, evs)
}

// MustSendBatch is SendBatch that fails the test on any event's error.
func MustSendBatch(t testing.TB, s sinks.Sink, evs ...*event.EnhancedEvent) {
	t.Helper()
	for i, err := range SendBatch(s, evs...) {
		if err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
	}
}

// BenchSendBatch is a receiver benchmark's loop: each iteration hands s
// the batch next(i) in one SendBatch and fails on any event's error. It
// reports events/s and the test process's CPU per event.
func BenchSendBatch(b *testing.B, s sinks.Sink, next func(i int) []*event.EnhancedEvent) {
	b.Helper()
	cpu := testenv.StartCPU()
	n := 0
	for i := 0; b.Loop(); i++ {
		evs := next(i)
		n += len(evs)
		for _, err := range SendBatch(s, evs...) {
			if err != nil {
				b.Fatal(err)
			}
		}
	}
	cpu.Report(b, n)
}

// BenchSend is BenchSendBatch for a sink that sends one event per request
// (the chat robots): each iteration sends next(i).
func BenchSend(b *testing.B, s sinks.Sink, next func(i int) *event.EnhancedEvent) {
	b.Helper()
	cpu := testenv.StartCPU()
	n := 0
	for i := 0; b.Loop(); i++ {
		if err := s.Send(b.Context(), next(i)); err != nil {
			b.Fatal(err)
		}
		n++
	}
	cpu.Report(b, n)
}
