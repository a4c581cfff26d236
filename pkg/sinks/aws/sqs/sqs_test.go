package sqs

import (
	"context"
	"encoding/json"
	"testing"

	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/eventide/eventide/internal/testenv"
	"github.com/eventide/eventide/internal/testenv/sinktest"
	"github.com/eventide/eventide/pkg/sinks"
)

func build(t testing.TB, src string) (sinks.Sink, error) {
	return sinktest.Build(t, &Config{}, src)
}

func mustBuild(t testing.TB, src string) sinks.Sink { return sinktest.MustBuild(t, &Config{}, src) }

// SQS runs against local-aws-sqs, which speaks the JSON protocol the SDK uses.
func TestSQSBatchToFIFOQueue(t *testing.T) {
	testenv.Outside(t, "local-aws-sqs under node")
	testenv.SetAWSTestEnv(t)
	ctx := context.Background()
	srv, err := testenv.StartSQS(ctx, "k8s-events.fifo", "plain")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	s := mustBuild(t, "sqs: {queueName: k8s-events.fifo, region: us-east-1, endpoint: "+srv.URL+", layout: {name: '{{ .Name }}'}, messageGroupId: '{{ .InvolvedObject.Name }}'}").(sinks.BatchSink)
	evs := testenv.SampleEvents(12) // two batches: 10 + 2
	for i, err := range s.SendBatch(ctx, evs) {
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
	}
	client := sqs.New(sqs.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider(testenv.AWSAccessKey, testenv.AWSSecretKey, "")})
	q, err := client.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String("k8s-events.fifo")})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for len(got) < 12 {
		out, err := client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: q.QueueUrl, MaxNumberOfMessages: 10,
			AttributeNames: []sqstypes.QueueAttributeName{"All"}}) //nolint:staticcheck // local-aws-sqs reads the classic field
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Messages) == 0 {
			break
		}
		for _, m := range out.Messages {
			got = append(got, aws.ToString(m.Body))
			if g := m.Attributes["MessageGroupId"]; g != "web-1" {
				t.Errorf("group id %q", g)
			}
			_, _ = client.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: q.QueueUrl, ReceiptHandle: m.ReceiptHandle})
		}
	}
	if len(got) != 12 || got[0] != `{"name":"ev-0"}` || got[11] != `{"name":"ev-11"}` {
		t.Errorf("received %v", got)
	}
	// A missing queue is a permanent failure, not an endless retry.
	missing := mustBuild(t, "sqs: {queueName: nope, region: us-east-1, endpoint: "+srv.URL+"}")
	if _, retry, _ := sinks.Classify(missing.Send(ctx, testenv.SampleEvent())); retry {
		t.Error("missing queue retried")
	}
	if _, err := build(t, "sqs: {queueName: plain, region: us-east-1, messageGroupId: x}"); err == nil {
		t.Error("a group id on a standard queue accepted")
	}
}

// An SQS batch answer delivers an entry only when it lists its Id as
// successful: Failed entries with unknown Ids, or an entry listed nowhere,
// leave it to be retried.
func TestBatchResultsMatchIds(t *testing.T) {
	var out sendMessageBatchAnswer
	if err := json.Unmarshal([]byte(`{"Successful": [{"Id": "0", "MD5OfMessageBody": "900150983cd24fb0d6963f7d28e17f72"}, {"Id": "07"}, {"Id": "4", "MD5OfMessageBody": "0000"}],
		"Failed": [{"Id": "9", "Code": "InternalError"}, {"Id": "2", "Code": "InvalidMessageContents", "SenderFault": true}]}`), &out); err != nil {
		t.Fatal(err)
	}
	errs := batchResults([]entry{{MessageBody: "abc"}, {}, {}, {}, {MessageBody: "abc"}}, &out)
	if errs[0] != nil {
		t.Errorf("entry 0 listed as successful with its body's MD5: %v", errs[0])
	}
	for _, j := range []int{1, 3, 4} { // nowhere, nowhere, another MD5
		if class, retryable, _ := sinks.Classify(errs[j]); class != "other" || !retryable {
			t.Errorf("entry %d, accounted for nowhere: %v (%s)", j, errs[j], class)
		}
	}
	if class, retryable, _ := sinks.Classify(errs[2]); class != "http_4xx" || retryable {
		t.Errorf("entry 2, a sender fault: %v (%s)", errs[2], class)
	}
}
