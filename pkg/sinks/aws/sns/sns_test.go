package sns

import (
	"context"
	"encoding/json"
	"net/url"
	"testing"
	"time"

	snssdk "github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/eventide/eventide/internal/testenv"
	"github.com/eventide/eventide/internal/testenv/sinktest"
	"github.com/eventide/eventide/pkg/sinks"
)

func mustBuild(t testing.TB, src string) sinks.Sink { return sinktest.MustBuild(t, &Config{}, src) }

func TestSNSPublish(t *testing.T) {
	f := sinktest.StartAWSFake(t, "sns", func(op string, body []byte) (int, string) {
		return 200, `<PublishResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><PublishResult><MessageId>m-1</MessageId></PublishResult><ResponseMetadata><RequestId>r-1</RequestId></ResponseMetadata></PublishResponse>`
	})
	s := mustBuild(t, `
sns:
  topicARN: arn:aws:sns:eu-west-1:123456789012:k8s
  region: eu-west-1
  endpoint: `+f.URL+`
  subject: "{{ .Reason }}\non {{ .InvolvedObject.Name }} ✓"
  messageAttributes:
    owner: '{{ .InvolvedObject.Labels.owner }}'
    missing: '{{ .InvolvedObject.Labels.nope }}'
  layout: {reason: '{{ .Reason }}'}
`)
	if err := s.Send(context.Background(), testenv.SampleEvent()); err != nil {
		t.Fatal(err)
	}
	reqs := f.Requests()
	if len(reqs) != 1 || reqs[0].Operation != "Publish" {
		t.Fatalf("requests %+v", reqs)
	}
	form, err := url.ParseQuery(string(reqs[0].Body))
	if err != nil {
		t.Fatal(err)
	}
	if form.Get("Subject") != "BackOff on web-1" || form.Get("Message") != `{"reason":"BackOff"}` ||
		form.Get("MessageAttributes.entry.1.Name") != "owner" || form.Get("MessageAttributes.entry.1.Value.StringValue") != "payments" ||
		form.Get("MessageAttributes.entry.2.Name") != "" {
		t.Errorf("Publish %s", reqs[0].Body)
	}
}

// SNS against serverless-offline-sns: what a subscriber receives.
func TestSNSDeliversToSubscriber(t *testing.T) {
	testenv.Outside(t, "serverless-offline-sns under node")
	testenv.SetAWSTestEnv(t)
	ctx := context.Background()
	srv, err := testenv.StartSNS(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	rec := testenv.NewRecorder()
	defer rec.Close()
	client := snssdk.New(snssdk.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider(testenv.AWSAccessKey, testenv.AWSSecretKey, "")})
	topic, err := client.CreateTopic(ctx, &snssdk.CreateTopicInput{Name: aws.String("k8s")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.Subscribe(ctx, &snssdk.SubscribeInput{TopicArn: topic.TopicArn, Protocol: aws.String("http"), Endpoint: aws.String(rec.URL)}); err != nil {
		t.Fatal(err)
	}
	s := mustBuild(t, "sns: {topicARN: '"+aws.ToString(topic.TopicArn)+"', region: us-east-1, endpoint: "+srv.URL+
		", subject: '{{ .Reason }} on {{ .InvolvedObject.Name }}', messageAttributes: {owner: '{{ .InvolvedObject.Labels.owner }}'}, layout: {reason: '{{ .Reason }}'}}")
	if err := s.Send(ctx, testenv.SampleEvent()); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	reqs, err := rec.WaitFor(wctx, func(r []testenv.Request) bool { return len(r) >= 1 })
	if err != nil {
		t.Fatal(err)
	}
	var n struct {
		Type, TopicArn, Subject, Message string
		MessageAttributes                map[string]struct{ Type, Value string }
	}
	if err := json.Unmarshal(reqs[0].Body, &n); err != nil {
		t.Fatalf("notification %s: %v", reqs[0].Body, err)
	}
	if n.Type != "Notification" || n.TopicArn != aws.ToString(topic.TopicArn) || n.Subject != "BackOff on web-1" ||
		n.Message != `{"reason":"BackOff"}` || n.MessageAttributes["owner"].Value != "payments" {
		t.Errorf("subscriber got %s", reqs[0].Body)
	}
}
