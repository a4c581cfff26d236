package sls

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pierrec/lz4/v4"

	"github.com/eventide/eventide/internal/testenv"
	"github.com/eventide/eventide/internal/testenv/sinktest"
	"github.com/eventide/eventide/pkg/kube/event"
	"github.com/eventide/eventide/pkg/sinks"
)

// The signature of the API documentation's PutLogs example, computed
// outside Go (Python's hmac module) and written down.
func TestSignatureVector(t *testing.T) {
	req, _ := http.NewRequest(http.MethodPost, "https://test-project.cn-hangzhou.log.aliyuncs.com/logstores/test-logstore", nil)
	for k, v := range map[string]string{"Content-MD5": "1DD45FA4A70A9300CC9FE7305AF2C494", "Content-Type": "application/x-protobuf",
		"Date": "Mon, 09 Nov 2015 06:03:03 GMT", "x-log-apiversion": "0.6.0", "x-log-bodyrawsize": "50",
		"x-log-compresstype": "lz4", "x-log-signaturemethod": "hmac-sha1", "Host": "ignored", "User-Agent": "ignored"} {
		req.Header.Set(k, v)
	}
	sign(req, "bq2sjzesjmo86kq35behupbq", "4fdO2fTDDnZPU/L7CHNdemB2Nsk=")
	if got, want := req.Header.Get("Authorization"), "LOG bq2sjzesjmo86kq35behupbq:XWLGYHGg2F2hcfxWxMLiNkGki6g="; got != want {
		t.Errorf("Authorization %s, want %s", got, want)
	}
}

func newLogService(t *testing.T, secret string) *testenv.SLSFake {
	f, err := testenv.NewSLSFake("my-project", "k8s-events", secret)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		f.Close()
		if bad := f.Bad(); len(bad) > 0 {
			t.Errorf("bad requests: %v", bad)
		}
	})
	return f
}

func build(t *testing.T, ls *testenv.SLSFake, extra string) sinks.BatchSink {
	return sinktest.MustBuild(t, &Config{}, `sls: {endpoint: 'http://`+ls.Host()+`', project: my-project, logstore: k8s-events`+extra+`}`).(sinks.BatchSink)
}

func lines(ls *testenv.SLSFake) (out, topics []string) {
	logs, topics, _ := ls.Logs()
	for _, l := range logs {
		out = append(out, l.Line())
	}
	return out, topics
}

// A batch is one LogGroup: the logs at their occurrence's time, the
// contents templates render (empty ones left out), the topic; signed,
// compressed with LZ4 (default) or deflate.
func TestPutLogs(t *testing.T) {
	for _, compression := range []string{"", ", compression: deflate", ", compression: none"} {
		ls := newLogService(t, "s3cret")
		s := build(t, ls, `, accessKeyID: AKID, accessKeySecret: s3cret, topic: prod-eu-1`+compression+`,
  contents: {reason: '{{ .Reason }}', object: '{{ .InvolvedObject.Name }}', owner: '{{ index .InvolvedObject.Labels "missing" }}'}`)
		evs := testenv.SampleEvents(3)
		evs[1].LastTimestamp.Time = evs[1].LastTimestamp.Add(1500 * time.Millisecond)
		for i, err := range s.SendBatch(context.Background(), evs) {
			if err != nil {
				t.Fatalf("%s: event %d: %v", compression, i, err)
			}
		}
		logs, topics := lines(ls)
		want := []string{"2026-11-21T10:00:00Z object=web-1 reason=BackOff", "2026-11-21T10:00:01.5Z object=web-1 reason=BackOff", "2026-11-21T10:00:00Z object=web-1 reason=BackOff"}
		if fmt.Sprint(logs) != fmt.Sprint(want) || fmt.Sprint(topics) != "[prod-eu-1]" {
			t.Errorf("%s: logs %q topics %v", compression, logs, topics)
		}
	}
}

// An STS token from a file: signed with its keys and carrying its
// security token; a new file is read when it changes.
func TestCredentialsFile(t *testing.T) {
	ls := newLogService(t, "sts-secret")
	file := filepath.Join(t.TempDir(), "token-config")
	os.WriteFile(file, []byte(`{"AccessKeyId":"STS.1","AccessKeySecret":"sts-secret","SecurityToken":"tok-1","Expiration":"2099-01-01T00:00:00Z"}`), 0o600)
	s := build(t, ls, `, credentialsFile: `+file)
	if err := s.Send(context.Background(), testenv.SampleEvent()); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(file, []byte(`{"AccessKeyId":"STS.2","AccessKeySecret":"sts-secret-2","SecurityToken":"tok-2"}`), 0o600)
	os.Chtimes(file, time.Now(), time.Now().Add(time.Hour))
	ls.SetSecret("sts-secret-2")
	if err := s.Send(context.Background(), testenv.SampleEvent()); err != nil {
		t.Fatal(err)
	}
	if _, _, keyIDs := ls.Logs(); fmt.Sprint(keyIDs) != "[STS.1 STS.2]" {
		t.Errorf("signed by %v, want STS.1 then, after the file changed, STS.2", keyIDs)
	}
}

// The service's refusals: quota and 5xx retried, a bad signature
// permanent with a hint.
func TestAnswers(t *testing.T) {
	ls := newLogService(t, "s3cret")
	s := build(t, ls, `, accessKeyID: AKID, accessKeySecret: s3cret`)
	for _, c := range []struct {
		status    int
		code      string
		retryable bool
		says      string
	}{
		{403, "WriteQuotaExceed", true, "WriteQuotaExceed"},
		{500, "InternalServerError", true, "HTTP 500"},
		{401, "SignatureNotMatch", false, "check the AccessKey"},
		{404, "LogStoreNotExist", false, "LogStoreNotExist"},
	} {
		ls.SetAnswer(func(w http.ResponseWriter) {
			w.WriteHeader(c.status)
			fmt.Fprintf(w, `{"errorCode":%q,"errorMessage":"m"}`, c.code)
		})
		err := s.Send(context.Background(), testenv.SampleEvent())
		if _, retryable, _ := sinks.Classify(err); err == nil || retryable != c.retryable || !strings.Contains(err.Error(), c.says) {
			t.Errorf("%d %s: %v", c.status, c.code, err)
		}
	}
}

// An incompressible body still goes as a valid LZ4 block.
func TestLiteralBlock(t *testing.T) {
	for _, n := range []int{1, 14, 15, 16, 269, 270, 1000} {
		raw := make([]byte, n)
		for i := range raw {
			raw[i] = byte(i*7919 + i>>3)
		}
		out := make([]byte, n)
		if m, err := lz4.UncompressBlock(literalBlock(raw), out); err != nil || m != n || !bytes.Equal(out, raw) {
			t.Errorf("%d bytes: %v, %d", n, err, m)
		}
	}
}

func TestBuildErrors(t *testing.T) {
	_, err := sinktest.Build(t, &Config{}, `sls: {project: 'My Project', logstore: x, compression: zstd}`)
	for _, want := range []string{"sls.endpoint: required", `sls.project: "My Project"`, `sls.logstore: "x"`, "set accessKeyID and accessKeySecret, or credentialsFile", `compression: "zstd"`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %s: %v", want, err)
		}
	}
}

// BenchmarkSendBatch: batches of 500 logs, LZ4, to the in-process fake
// (its signature check, decompression and protobuf decoding are in the
// figure).
func BenchmarkSendBatch(b *testing.B) {
	f, err := testenv.NewSLSFake("my-project", "k8s-events", "s3cret")
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	s := sinktest.MustBuild(b, &Config{}, `sls: {endpoint: 'http://`+f.Host()+`', project: my-project, logstore: k8s-events, accessKeyID: AKID, accessKeySecret: s3cret}`)
	evs := testenv.SampleEvents(500)
	sinktest.BenchSendBatch(b, s, func(int) []*event.EnhancedEvent { return evs })
}
