package opscenter

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/eventide/eventide/internal/testenv"
	"github.com/eventide/eventide/internal/testenv/sinktest"
	"github.com/eventide/eventide/pkg/sinks"
)

func build(t testing.TB, src string) (sinks.Sink, error) {
	return sinktest.Build(t, &Config{}, src)
}

func mustBuild(t testing.TB, src string) sinks.Sink { return sinktest.MustBuild(t, &Config{}, src) }

func TestOpsCenterCreateOpsItem(t *testing.T) {
	f := sinktest.StartAWSFake(t, "ssm", func(op string, body []byte) (int, string) { return 200, `{"OpsItemId":"oi-1"}` })
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
	if err := s.Send(context.Background(), testenv.SampleEvent()); err != nil {
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

// The fakes' signature check is real: a request signed with another secret
// is refused and reported.
func TestAWSFakeRejectsBadSignature(t *testing.T) {
	testenv.SetAWSTestEnv(t)
	f := testenv.NewAWSFake("ssm", func(string, []byte) (int, string) { return 200, `{"OpsItemId":"oi-1"}` })
	defer f.Close()
	t.Setenv("AWS_SECRET_ACCESS_KEY", "not-the-test-secret")
	s := mustBuild(t, "opscenter: {region: eu-west-1, endpoint: "+f.URL+"}")
	if err := s.Send(context.Background(), testenv.SampleEvent()); err == nil {
		t.Error("a badly signed request was accepted")
	}
	if len(f.SignatureErrors()) != 1 || len(f.Requests()) != 0 {
		t.Errorf("signature errors %v, requests %d", f.SignatureErrors(), len(f.Requests()))
	}
}

// roleARN: the receiver assumes the role through STS and signs its calls
// with the session it got.
func TestAWSRoleARNAssumesRole(t *testing.T) {
	sts := sinktest.StartAWSFake(t, "sts", func(op string, body []byte) (int, string) {
		return 200, `<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult>
<Credentials><AccessKeyId>` + testenv.AWSAccessKey + `</AccessKeyId><SecretAccessKey>` + testenv.AWSSecretKey + `</SecretAccessKey>
<SessionToken>assumed-session-token</SessionToken><Expiration>2099-01-01T00:00:00Z</Expiration></Credentials>
<AssumedRoleUser><Arn>arn:aws:sts::123456789012:assumed-role/eventide/s</Arn><AssumedRoleId>AROA1:s</AssumedRoleId></AssumedRoleUser>
</AssumeRoleResult><ResponseMetadata><RequestId>r-1</RequestId></ResponseMetadata></AssumeRoleResponse>`
	})
	t.Setenv("AWS_ENDPOINT_URL_STS", sts.URL)
	ssm := sinktest.StartAWSFake(t, "ssm", func(string, []byte) (int, string) { return 200, `{"OpsItemId":"oi-1"}` })
	s := mustBuild(t, "opscenter: {region: eu-west-1, endpoint: "+ssm.URL+", roleARN: 'arn:aws:iam::123456789012:role/eventide'}")
	for i := 0; i < 2; i++ {
		if err := s.Send(context.Background(), testenv.SampleEvent()); err != nil {
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

func TestOpsCenterTemplateErrorIsNotRetried(t *testing.T) {
	f := sinktest.StartAWSFake(t, "ssm", func(string, []byte) (int, string) { return 200, `{"OpsItemId":"oi-1"}` })
	for _, key := range []string{"title", "description", "severity", "operationalData: {team"} {
		t.Run(key, func(t *testing.T) {
			cfg := "opscenter: {region: eu-west-1, endpoint: " + f.URL + ", " + key + `: '{{ fail "broken" }}'`
			if strings.HasPrefix(key, "operationalData") {
				cfg += "}"
			}
			sinktest.RequireTemplateError(t, mustBuild(t, cfg+"}"))
		})
	}
}

// SSM's error answers are classified as the SDK-based receivers classify
// theirs: throttling and 5xx are retried, a refused request is not.
func TestOpsCenterErrorAnswers(t *testing.T) {
	for _, c := range []struct {
		status    int
		body      string
		class     sinks.Class
		retryable bool
	}{
		{400, `{"__type":"com.amazonaws.ssm#ThrottlingException","message":"Rate exceeded"}`, sinks.ClassRateLimited, true},
		{429, `{}`, sinks.ClassRateLimited, true},
		{500, `{}`, sinks.ClassHTTP5xx, true},
		{500, `{"__type":"InternalServerError"}`, sinks.ClassRateLimited, true}, // as awsbase.Classify counts it
		{400, `{"__type":"com.amazonaws.ssm#OpsItemInvalidParameterException","Message":"bad title"}`, sinks.ClassHTTP4xx, false},
		{403, `not json`, sinks.ClassHTTP4xx, false},
		{307, ``, sinks.ClassRedirect, false},
	} {
		f := sinktest.StartAWSFake(t, "ssm", func(string, []byte) (int, string) { return c.status, c.body })
		err := mustBuild(t, "opscenter: {region: eu-west-1, endpoint: "+f.URL+"}").Send(context.Background(), testenv.SampleEvent())
		class, retryable, _ := sinks.Classify(err)
		if class != c.class || retryable != c.retryable {
			t.Errorf("%d %s: %v (%s, retryable %v), want %s, retryable %v", c.status, c.body, err, class, retryable, c.class, c.retryable)
		}
	}
}
