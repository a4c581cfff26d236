package sinks

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/eventide/eventide/pkg/kube/event"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	snssdk "github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"k8s.io/apimachinery/pkg/types"

	"github.com/eventide/eventide/internal/testenv"
)

func awsFake(t *testing.T, service string, respond func(op string, body []byte) (int, string)) *testenv.AWSFake {
	t.Helper()
	awsTestEnv(t)
	f := testenv.NewAWSFake(service, respond)
	t.Cleanup(func() {
		f.Close()
		if bad := f.SignatureErrors(); len(bad) > 0 {
			t.Errorf("requests with a bad SigV4 signature: %v", bad)
		}
	})
	return f
}

func events(n int) []*event.EnhancedEvent {
	var evs []*event.EnhancedEvent
	for i := 0; i < n; i++ {
		ev := sampleEvent()
		ev.Name = fmt.Sprintf("ev-%d", i)
		ev.UID = types.UID(fmt.Sprintf("%s-%d", ev.UID, i))
		evs = append(evs, ev)
	}
	return evs
}

func TestFirehoseBatchAndPartialFailure(t *testing.T) {
	calls := 0
	f := awsFake(t, "firehose", func(op string, body []byte) (int, string) {
		calls++
		var in struct{ Records []struct{ Data []byte } }
		_ = json.Unmarshal(body, &in)
		if calls == 1 { // the second record is throttled
			return 200, `{"FailedPutCount":1,"RequestResponses":[{"RecordId":"a"},{"ErrorCode":"ServiceUnavailableException","ErrorMessage":"slow down"},{"RecordId":"c"}]}`
		}
		return 200, `{"FailedPutCount":0,"RequestResponses":[{"RecordId":"x"}]}`
	})
	s := mustBuild(t, "firehose: {deliveryStreamName: k8s, region: eu-west-1, endpoint: "+f.URL+", layout: {name: '{{ .Name }}'}}").(BatchSink)
	errs := s.SendBatch(context.Background(), events(3))
	if errs[0] != nil || errs[2] != nil {
		t.Fatalf("errs %v", errs)
	}
	if _, retry, _ := Classify(errs[1]); !retry {
		t.Errorf("a throttled record must be retryable: %v", errs[1])
	}
	reqs := f.Requests()
	if len(reqs) != 1 || reqs[0].Operation != "Firehose_20150804.PutRecordBatch" {
		t.Fatalf("requests %+v", reqs)
	}
	var in struct {
		DeliveryStreamName string
		Records            []struct{ Data []byte }
	}
	if err := json.Unmarshal(reqs[0].Body, &in); err != nil {
		t.Fatal(err)
	}
	if in.DeliveryStreamName != "k8s" || len(in.Records) != 3 || string(in.Records[1].Data) != "{\"name\":\"ev-1\"}\n" {
		t.Errorf("PutRecordBatch %s", reqs[0].Body)
	}
}

func TestEventBridgePutEvents(t *testing.T) {
	f := awsFake(t, "events", func(op string, body []byte) (int, string) {
		return 200, `{"FailedEntryCount":0,"Entries":[{"EventId":"1"},{"EventId":"2"}]}`
	})
	s := mustBuild(t, `
eventbridge:
  region: eu-west-1
  endpoint: `+f.URL+`
  eventBusName: k8s-bus
  source: 'eventide.{{ .ClusterName }}'
  detailType: '{{ .Reason }}'
  details:
    message: '{{ .Message }}'
    count: !int '{{ .GetCount }}'
`).(BatchSink)
	for i, err := range s.SendBatch(context.Background(), events(2)) {
		if err != nil {
			t.Fatalf("entry %d: %v", i, err)
		}
	}
	reqs := f.Requests()
	if len(reqs) != 1 || reqs[0].Operation != "AWSEvents.PutEvents" {
		t.Fatalf("requests %+v", reqs)
	}
	var in struct {
		Entries []struct{ Source, DetailType, Detail, EventBusName string }
	}
	if err := json.Unmarshal(reqs[0].Body, &in); err != nil {
		t.Fatal(err)
	}
	e := in.Entries[0]
	if len(in.Entries) != 2 || e.Source != "eventide.prod-eu-1" || e.DetailType != "BackOff" || e.EventBusName != "k8s-bus" ||
		e.Detail != `{"message":"Back-off restarting failed container \"app\" <x>","count":3}` {
		t.Errorf("PutEvents %s", reqs[0].Body)
	}
	f.SetRespond(func(string, []byte) (int, string) {
		return 400, `{"__type":"ValidationException","message":"bad"}`
	})
	if _, retry, _ := Classify(s.SendBatch(context.Background(), events(1))[0]); retry {
		t.Error("a ValidationException must not be retried")
	}
	f.SetRespond(func(string, []byte) (int, string) {
		return 400, `{"__type":"ThrottlingException","message":"slow"}`
	})
	if _, retry, _ := Classify(s.SendBatch(context.Background(), events(1))[0]); !retry {
		t.Error("a ThrottlingException must be retried")
	}
}

func TestOpsCenterCreateOpsItem(t *testing.T) {
	f := awsFake(t, "ssm", func(op string, body []byte) (int, string) { return 200, `{"OpsItemId":"oi-1"}` })
	s := mustBuild(t, `
opscenter:
  region: eu-west-1
  endpoint: `+f.URL+`
  title: '{{ .Reason }} on {{ .InvolvedObject.Name }}'
  category: Availability
  severity: '2'
  priority: '{{ if eq .Type "Warning" }}2{{ else }}4{{ end }}'
  notifications: [arn:aws:sns:eu-west-1:123456789012:ops]
  operationalData:
    owner: '{{ .InvolvedObject.Labels.owner }}'
  tags:
    cluster: '{{ .ClusterName }}'
`)
	if err := s.Send(context.Background(), sampleEvent()); err != nil {
		t.Fatal(err)
	}
	reqs := f.Requests()
	if len(reqs) != 1 || reqs[0].Operation != "AmazonSSM.CreateOpsItem" {
		t.Fatalf("requests %+v", reqs)
	}
	var in struct {
		Title, Description, Source, Category, Severity string
		Priority                                       int
		OperationalData                                map[string]struct{ Type, Value string }
		Notifications                                  []struct{ Arn string }
		Tags                                           []struct{ Key, Value string }
	}
	if err := json.Unmarshal(reqs[0].Body, &in); err != nil {
		t.Fatal(err)
	}
	if in.Title != "BackOff on web-1" || in.Source != "eventide" || in.Priority != 2 || in.Severity != "2" ||
		in.OperationalData["owner"].Value != "payments" || in.OperationalData["/aws/dedup"].Value != `{"dedupString":"Pod/shop/web-1/BackOff"}` ||
		len(in.Notifications) != 1 || in.Tags[0].Value != "prod-eu-1" {
		t.Errorf("CreateOpsItem %s", reqs[0].Body)
	}
	_, err := build(t, "opscenter: {region: eu-west-1, operationalData: {awsThing: x}}")
	if err == nil || !strings.Contains(err.Error(), "reserved by AWS") {
		t.Errorf("reserved key: %v", err)
	}
}

func TestSNSPublish(t *testing.T) {
	f := awsFake(t, "sns", func(op string, body []byte) (int, string) {
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
	if err := s.Send(context.Background(), sampleEvent()); err != nil {
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

// SQS runs against local-aws-sqs, which speaks the JSON protocol the SDK uses.
func TestSQSBatchToFIFOQueue(t *testing.T) {
	awsTestEnv(t)
	ctx := context.Background()
	srv, err := testenv.StartSQS(ctx, "k8s-events.fifo", "plain")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	s := mustBuild(t, "sqs: {queueName: k8s-events.fifo, region: us-east-1, endpoint: "+srv.URL+", layout: {name: '{{ .Name }}'}, messageGroupId: '{{ .InvolvedObject.Name }}'}").(BatchSink)
	evs := events(12) // two batches: 10 + 2
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
	if _, retry, _ := Classify(missing.Send(ctx, sampleEvent())); retry {
		t.Error("missing queue retried")
	}
	if _, err := build(t, "sqs: {queueName: plain, region: us-east-1, messageGroupId: x}"); err == nil {
		t.Error("a group id on a standard queue accepted")
	}
}

// The fakes' signature check is real: a request signed with another secret
// is refused and reported.
func TestAWSFakeRejectsBadSignature(t *testing.T) {
	awsTestEnv(t)
	f := testenv.NewAWSFake("ssm", func(string, []byte) (int, string) { return 200, `{"OpsItemId":"oi-1"}` })
	defer f.Close()
	t.Setenv("AWS_SECRET_ACCESS_KEY", "not-the-test-secret")
	s := mustBuild(t, "opscenter: {region: eu-west-1, endpoint: "+f.URL+"}")
	if err := s.Send(context.Background(), sampleEvent()); err == nil {
		t.Error("a badly signed request was accepted")
	}
	if len(f.SignatureErrors()) != 1 || len(f.Requests()) != 0 {
		t.Errorf("signature errors %v, requests %d", f.SignatureErrors(), len(f.Requests()))
	}
}

// roleARN: the receiver assumes the role through STS and signs its calls
// with the session it got.
func TestAWSRoleARNAssumesRole(t *testing.T) {
	sts := awsFake(t, "sts", func(op string, body []byte) (int, string) {
		return 200, `<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult>
<Credentials><AccessKeyId>` + testenv.AWSAccessKey + `</AccessKeyId><SecretAccessKey>` + testenv.AWSSecretKey + `</SecretAccessKey>
<SessionToken>assumed-session-token</SessionToken><Expiration>2099-01-01T00:00:00Z</Expiration></Credentials>
<AssumedRoleUser><Arn>arn:aws:sts::123456789012:assumed-role/eventide/s</Arn><AssumedRoleId>AROA1:s</AssumedRoleId></AssumedRoleUser>
</AssumeRoleResult><ResponseMetadata><RequestId>r-1</RequestId></ResponseMetadata></AssumeRoleResponse>`
	})
	t.Setenv("AWS_ENDPOINT_URL_STS", sts.URL)
	ssm := awsFake(t, "ssm", func(string, []byte) (int, string) { return 200, `{"OpsItemId":"oi-1"}` })
	s := mustBuild(t, "opscenter: {region: eu-west-1, endpoint: "+ssm.URL+", roleARN: 'arn:aws:iam::123456789012:role/eventide'}")
	for i := 0; i < 2; i++ {
		if err := s.Send(context.Background(), sampleEvent()); err != nil {
			t.Fatal(err)
		}
	}
	assumed := sts.Requests()
	if len(assumed) != 1 || assumed[0].Operation != "AssumeRole" || !strings.Contains(string(assumed[0].Body), "RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Feventide") {
		t.Fatalf("STS requests %+v: want one AssumeRole, cached", assumed)
	}
	for _, r := range ssm.Requests() {
		if r.Header.Get("X-Amz-Security-Token") != "assumed-session-token" {
			t.Errorf("call not signed with the assumed session: %v", r.Header)
		}
	}
}

// SNS against serverless-offline-sns: what a subscriber receives.
func TestSNSDeliversToSubscriber(t *testing.T) {
	awsTestEnv(t)
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
	if err := s.Send(ctx, sampleEvent()); err != nil {
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
