package firehose

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/eventide/eventide/internal/testenv"
	"github.com/eventide/eventide/internal/testenv/sinktest"
	"github.com/eventide/eventide/pkg/sinks"
)

func mustBuild(t testing.TB, src string) sinks.Sink { return sinktest.MustBuild(t, &Config{}, src) }

func TestFirehoseBatchAndPartialFailure(t *testing.T) {
	calls := 0
	f := sinktest.StartAWSFake(t, "firehose", func(op string, body []byte) (int, string) {
		calls++
		var in struct{ Records []struct{ Data []byte } }
		_ = json.Unmarshal(body, &in)
		if calls == 1 { // the second record is throttled
			return 200, `{"FailedPutCount":1,"RequestResponses":[{"RecordId":"a"},{"ErrorCode":"ServiceUnavailableException","ErrorMessage":"slow down"},{"RecordId":"c"}]}`
		}
		return 200, `{"FailedPutCount":0,"RequestResponses":[{"RecordId":"x"}]}`
	})
	s := mustBuild(t, "firehose: {deliveryStreamName: k8s, region: eu-west-1, endpoint: "+f.URL+", layout: {name: '{{ .Name }}'}}").(sinks.BatchSink)
	errs := s.SendBatch(context.Background(), testenv.SampleEvents(3))
	if errs[0] != nil || errs[2] != nil {
		t.Fatalf("errs %v", errs)
	}
	if _, retry, _ := sinks.Classify(errs[1]); !retry {
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

// A full batch's answer is read whole: 500 RecordIds of Firehose's length
// make an answer past 100 KiB, and one cut short would fail every record.
func TestFirehoseFullBatchAnswer(t *testing.T) {
	id := strings.Repeat("r", 224)
	f := sinktest.StartAWSFake(t, "firehose", func(op string, body []byte) (int, string) {
		var in struct{ Records []json.RawMessage }
		_ = json.Unmarshal(body, &in)
		results := make([]string, len(in.Records))
		for i := range results {
			results[i] = `{"RecordId":"` + id + `"}`
		}
		return 200, `{"FailedPutCount":0,"RequestResponses":[` + strings.Join(results, ",") + `]}`
	})
	s := mustBuild(t, "firehose: {deliveryStreamName: k8s, region: eu-west-1, endpoint: "+f.URL+"}").(sinks.BatchSink)
	for i, err := range s.SendBatch(context.Background(), testenv.SampleEvents(500)) {
		if err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
	}
}
