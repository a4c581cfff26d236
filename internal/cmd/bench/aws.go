package main

import (
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/eventide/eventide/internal/testenv"
)

// batching are the -receiver values other than webhook: the batching AWS
// receivers, each against an AWSFake that checks the SigV4 signature,
// answers every entry of a batch as accepted and hands each payload to
// the benchmark's sink. The fake runs in this process, so eventide's CPU
// is eventide's alone.
var batching = map[string]struct {
	service string // signing name
	config  string // the receiver's YAML: %[1]s the endpoint, %[2]s the payload's layout
}{
	"kinesis":     {"kinesis", "kinesis: {streamName: bench, region: us-east-1, endpoint: %[1]s, layout: %[2]s}"},
	"sqs":         {"sqs", "sqs: {queueURL: '%[1]s/123456789012/bench', region: us-east-1, endpoint: %[1]s, layout: %[2]s}"},
	"firehose":    {"firehose", "firehose: {deliveryStreamName: bench, region: us-east-1, endpoint: %[1]s, layout: %[2]s}"},
	"eventbridge": {"events", "eventbridge: {region: us-east-1, endpoint: %[1]s, source: bench, detailType: event, details: %[2]s}"},
}

// startBatching starts the fake for receiver; its payloads go to rec.
func startBatching(receiver string, rec *sink) (*testenv.AWSFake, error) {
	b, ok := batching[receiver]
	if !ok {
		return nil, fmt.Errorf("-receiver %q: want webhook, kinesis, sqs, firehose or eventbridge", receiver)
	}
	testenv.SetAWSTestEnv(osEnv{}) // inherited by eventide
	return testenv.NewAWSFake(b.service, func(op string, body []byte) (int, string) {
		resp, err := acceptBatch(op, body, rec)
		if err != nil {
			return 400, fmt.Sprintf(`{"__type":"ValidationException","message":%q}`, err.Error())
		}
		return 200, resp
	}), nil
}

type osEnv struct{}

func (osEnv) Setenv(k, v string) { os.Setenv(k, v) }

// acceptBatch records each payload of one batch call and answers it as the
// service does when every entry is accepted.
func acceptBatch(op string, body []byte, rec *sink) (string, error) {
	now := time.Now()
	var req struct {
		Records []struct{ Data []byte } // kinesis, firehose: base64 in the JSON
		Entries []struct {
			ID          string `json:"Id"`
			MessageBody string // sqs
			Detail      string // eventbridge
		}
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return "", err
	}
	var out []string
	switch op[strings.LastIndex(op, ".")+1:] {
	case "PutRecords":
		for i, r := range req.Records {
			rec.record(r.Data, now, "")
			out = append(out, fmt.Sprintf(`{"SequenceNumber":"%d","ShardId":"shardId-000000000000"}`, i))
		}
		return `{"FailedRecordCount":0,"Records":[` + strings.Join(out, ",") + `]}`, nil
	case "PutRecordBatch":
		for i, r := range req.Records {
			rec.record(r.Data, now, "")
			out = append(out, fmt.Sprintf(`{"RecordId":"%d"}`, i))
		}
		return `{"FailedPutCount":0,"Encrypted":false,"RequestResponses":[` + strings.Join(out, ",") + `]}`, nil
	case "PutEvents":
		for i, e := range req.Entries {
			rec.record([]byte(e.Detail), now, "")
			out = append(out, fmt.Sprintf(`{"EventId":"%d"}`, i))
		}
		return `{"FailedEntryCount":0,"Entries":[` + strings.Join(out, ",") + `]}`, nil
	case "SendMessageBatch":
		for i, e := range req.Entries {
			rec.record([]byte(e.MessageBody), now, "")
			sum := md5.Sum([]byte(e.MessageBody))
			out = append(out, fmt.Sprintf(`{"Id":%q,"MessageId":"m-%d","MD5OfMessageBody":%q}`, e.ID, i, hex.EncodeToString(sum[:])))
		}
		return `{"Successful":[` + strings.Join(out, ",") + `],"Failed":[]}`, nil
	}
	return "", fmt.Errorf("operation %q is not a batch call this benchmark answers", op)
}
