package sinks_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/eventide/eventide/internal/testenv"
	"github.com/eventide/eventide/internal/testenv/sinktest"
	"github.com/eventide/eventide/pkg/kube/event"
	"github.com/eventide/eventide/pkg/sinks"
	"github.com/eventide/eventide/pkg/sinks/aws/eventbridge"
	"github.com/eventide/eventide/pkg/sinks/aws/firehose"
	"github.com/eventide/eventide/pkg/sinks/aws/kinesis"
	"github.com/eventide/eventide/pkg/sinks/aws/opscenter"
	"github.com/eventide/eventide/pkg/sinks/aws/sns"
	"github.com/eventide/eventide/pkg/sinks/aws/sqs"
	"github.com/eventide/eventide/pkg/sinks/opsgenie"
	"github.com/eventide/eventide/pkg/sinks/slack"
	"github.com/eventide/eventide/pkg/sinks/webhook"
)

// BenchmarkReceiverThroughput sends b.N events through each receiver to its
// local server, in batches of the receiver's MaxBatch as the runtime hands
// them over when its queue is full, and reports events/s. One sender, as in
// the runtime (one worker per receiver).
//
//	go test -run xxx -bench ReceiverThroughput -benchtime 2000x ./pkg/sinks/...
func BenchmarkReceiverThroughput(b *testing.B) {
	testenv.Outside(b, "the AWS servers under node")
	ctx := context.Background()
	testenv.SetAWSTestEnv(b)

	hook := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer hook.Close()
	slackSrv := testenv.NewSlackServer()
	defer slackSrv.Stop()
	og := testenv.NewOpsgenieServer()
	defer og.Close()
	kin, err := testenv.StartKinesis(ctx)
	if err != nil {
		b.Fatal(err)
	}
	defer kin.Stop()
	if err := testenv.CreateKinesisStream(ctx, kin.URL, "bench"); err != nil {
		b.Fatal(err)
	}
	sqsSrv, err := testenv.StartSQS(ctx, "bench")
	if err != nil {
		b.Fatal(err)
	}
	defer sqsSrv.Stop()
	ok := func(body string) func(string, []byte) (int, string) {
		return func(string, []byte) (int, string) { return 200, body }
	}
	firehoseFake := testenv.NewAWSFake("firehose", ok(`{"FailedPutCount":0,"RequestResponses":[]}`))
	defer firehoseFake.Close()
	eventsFake := testenv.NewAWSFake("events", ok(`{"FailedEntryCount":0,"Entries":[]}`))
	defer eventsFake.Close()
	snsFake := testenv.NewAWSFake("sns", ok(`<PublishResponse><PublishResult><MessageId>m</MessageId></PublishResult></PublishResponse>`))
	defer snsFake.Close()
	ssm := testenv.NewAWSFake("ssm", ok(`{"OpsItemId":"oi-1"}`))
	defer ssm.Close()

	for _, rc := range []struct {
		name     string
		settings sinks.Builder
		config   string
	}{
		{"webhook", &webhook.Config{}, "webhook: {endpoint: " + hook.URL + ", layout: {r: '{{ .Reason }}'}}"},
		{"slack", &slack.Config{}, "slack: {token: x, apiURL: " + slackSrv.GetAPIURL() + ", channel: '#c', title: '{{ .Reason }}'}"},
		{"opsgenie", &opsgenie.Config{}, "opsgenie: {apiKey: k, URL: " + og.Host() + "}"},
		{"kinesis", &kinesis.Config{}, "kinesis: {streamName: bench, region: us-east-1, endpoint: " + kin.URL + "}"},
		{"sqs", &sqs.Config{}, "sqs: {queueName: bench, region: us-east-1, endpoint: " + sqsSrv.URL + "}"},
		{"firehose", &firehose.Config{}, "firehose: {deliveryStreamName: bench, region: us-east-1, endpoint: " + firehoseFake.URL + "}"},
		{"eventbridge", &eventbridge.Config{}, "eventbridge: {region: us-east-1, endpoint: " + eventsFake.URL + "}"},
		{"sns", &sns.Config{}, "sns: {topicARN: 'arn:aws:sns:us-east-1:123456789012:bench', region: us-east-1, endpoint: " + snsFake.URL + "}"},
		{"opscenter", &opscenter.Config{}, "opscenter: {region: us-east-1, endpoint: " + ssm.URL + "}"},
	} {
		b.Run(rc.name, func(b *testing.B) {
			s, err := sinktest.Build(b, rc.settings, rc.config)
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			batch := 1
			bs, isBatch := s.(sinks.BatchSink)
			if isBatch {
				batch = bs.MaxBatch()
			}
			ev := testenv.SampleEvent()
			evs := make([]*event.EnhancedEvent, 0, batch)
			start := time.Now()
			for sent := 0; sent < b.N; {
				n := min(batch, b.N-sent)
				evs = evs[:0]
				for i := 0; i < n; i++ {
					evs = append(evs, ev)
				}
				var errs []error
				if isBatch {
					errs = bs.SendBatch(ctx, evs)
				} else {
					errs = []error{s.Send(ctx, ev)}
				}
				for _, err := range errs {
					if err != nil {
						b.Fatal(err)
					}
				}
				sent += n
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
		})
	}
}
