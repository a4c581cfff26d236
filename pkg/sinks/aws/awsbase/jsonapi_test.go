package awsbase

import (
	"context"
	"path/filepath"
	"testing"
)

// The endpoint of a JSONAPI receiver is resolved as the SDKs resolve it,
// so AWS_ENDPOINT_URL_<SERVICE>, AWS_ENDPOINT_URL and FIPS settings that
// worked with the service SDK keep working.
func TestEndpointResolvedAsTheSDKsDo(t *testing.T) {
	sqs := Service{SigningName: "sqs", SDKID: "SQS"}
	kinesis := Service{SigningName: "kinesis", SDKID: "Kinesis"}
	for _, c := range []struct {
		name     string
		env      map[string]string
		endpoint string // the receiver's key
		svc      Service
		want     string
	}{
		{"public", nil, "", sqs, "https://sqs.eu-west-1.amazonaws.com"},
		{"China", map[string]string{"AWS_REGION": "cn-north-1"}, "", sqs, "https://sqs.cn-north-1.amazonaws.com.cn"},
		{"FIPS", map[string]string{"AWS_USE_FIPS_ENDPOINT": "true"}, "", kinesis, "https://kinesis-fips.eu-west-1.amazonaws.com"},
		{"per service", map[string]string{"AWS_ENDPOINT_URL_SQS": "http://sqs.local:9324"}, "", sqs, "http://sqs.local:9324"},
		{"per service, another", map[string]string{"AWS_ENDPOINT_URL_SQS": "http://sqs.local:9324"}, "", kinesis, "https://kinesis.eu-west-1.amazonaws.com"},
		{"every service", map[string]string{"AWS_ENDPOINT_URL": "http://localstack:4566"}, "", kinesis, "http://localstack:4566"},
		{"ignored", map[string]string{"AWS_ENDPOINT_URL": "http://localstack:4566", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "true"}, "", kinesis, "https://kinesis.eu-west-1.amazonaws.com"},
		{"the receiver's key wins", map[string]string{"AWS_ENDPOINT_URL_SQS": "http://sqs.local:9324"}, "http://mine:1", sqs, "http://mine:1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			empty := filepath.Join(t.TempDir(), "none")
			t.Setenv("AWS_CONFIG_FILE", empty)
			t.Setenv("AWS_SHARED_CREDENTIALS_FILE", empty)
			t.Setenv("AWS_REGION", "eu-west-1")
			for _, k := range []string{"AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SQS", "AWS_USE_FIPS_ENDPOINT", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"} {
				t.Setenv(k, "")
			}
			for k, v := range c.env {
				t.Setenv(k, v)
			}
			rc := Config{Endpoint: c.endpoint}
			cfg, err := rc.Load(context.Background(), "receivers[0].sqs")
			if err != nil {
				t.Fatal(err)
			}
			if got := Endpoint(context.Background(), cfg, rc, c.svc); got != c.want {
				t.Errorf("endpoint %s, want %s", got, c.want)
			}
		})
	}
}
