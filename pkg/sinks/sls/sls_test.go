package sls

import (
	"bytes"
	"compress/zlib"
	"context"
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pierrec/lz4/v4"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/eventide/eventide/internal/testenv"
	"github.com/eventide/eventide/internal/testenv/sinktest"
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

// logGroupType is the LogGroup message, from a descriptor written here
// (Log Service's sls.proto), not from the encoder's code.
func logGroupType(t *testing.T) protoreflect.MessageType {
	str := func(n string, num int32, label descriptorpb.FieldDescriptorProto_Label, typ descriptorpb.FieldDescriptorProto_Type, msg string) *descriptorpb.FieldDescriptorProto {
		f := &descriptorpb.FieldDescriptorProto{Name: proto.String(n), Number: proto.Int32(num), Label: label.Enum(), Type: typ.Enum()}
		if msg != "" {
			f.TypeName = proto.String(".sls." + msg)
		}
		return f
	}
	opt, rep, req := descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL, descriptorpb.FieldDescriptorProto_LABEL_REPEATED, descriptorpb.FieldDescriptorProto_LABEL_REQUIRED
	s, u32, f32, m := descriptorpb.FieldDescriptorProto_TYPE_STRING, descriptorpb.FieldDescriptorProto_TYPE_UINT32, descriptorpb.FieldDescriptorProto_TYPE_FIXED32, descriptorpb.FieldDescriptorProto_TYPE_MESSAGE
	pair := func(name string) *descriptorpb.DescriptorProto {
		return &descriptorpb.DescriptorProto{Name: proto.String(name), Field: []*descriptorpb.FieldDescriptorProto{str("Key", 1, req, s, ""), str("Value", 2, req, s, "")}}
	}
	fd := &descriptorpb.FileDescriptorProto{Name: proto.String("sls.proto"), Package: proto.String("sls"), Syntax: proto.String("proto2"),
		MessageType: []*descriptorpb.DescriptorProto{
			pair("Content"), pair("LogTag"),
			{Name: proto.String("Log"), Field: []*descriptorpb.FieldDescriptorProto{str("Time", 1, req, u32, ""), str("Contents", 2, rep, m, "Content"), str("Time_ns", 4, opt, f32, "")}},
			{Name: proto.String("LogGroup"), Field: []*descriptorpb.FieldDescriptorProto{str("Logs", 1, rep, m, "Log"), str("Reserved", 2, opt, s, ""),
				str("Topic", 3, opt, s, ""), str("Source", 4, opt, s, ""), str("LogTags", 6, rep, m, "LogTag")}},
		}}
	file, err := protodesc.NewFile(fd, nil)
	if err != nil {
		t.Fatal(err)
	}
	return dynamicpb.NewMessageType(file.Messages().ByName("LogGroup"))
}

// logService is the PutLogs endpoint: it checks the signature (its own
// computation), Content-MD5 and the raw size, decompresses, decodes the
// LogGroup by the descriptor and records it as JSON-ish text.
type logService struct {
	*httptest.Server
	mu     sync.Mutex
	groups []protoreflect.Message
	bad    []string
	answer func(w http.ResponseWriter)
}

func newLogService(t *testing.T, secret string) *logService {
	typ := logGroupType(t)
	ls := &logService{answer: func(w http.ResponseWriter) { w.Header().Set("x-log-requestid", "1"); w.WriteHeader(200) }}
	ls.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		fail := func(f string, a ...any) { ls.mu.Lock(); ls.bad = append(ls.bad, fmt.Sprintf(f, a...)); ls.mu.Unlock() }
		if r.Host != "my-project."+strings.TrimPrefix(ls.URL, "http://") || r.URL.Path != "/logstores/k8s-events/shards/lb" {
			fail("host %s path %s", r.Host, r.URL.Path)
		}
		sum := md5.Sum(body)
		if r.Header.Get("Content-MD5") != strings.ToUpper(hex.EncodeToString(sum[:])) {
			fail("Content-MD5 %s", r.Header.Get("Content-MD5"))
		}
		var canon string
		for _, h := range []string{"x-acs-security-token", "x-log-apiversion", "x-log-bodyrawsize", "x-log-compresstype", "x-log-signaturemethod"} {
			if v := r.Header.Get(h); v != "" {
				canon += h + ":" + v + "\n"
			}
		}
		mac := hmac.New(sha1.New, []byte(secret))
		io.WriteString(mac, "POST\n"+r.Header.Get("Content-MD5")+"\napplication/x-protobuf\n"+r.Header.Get("Date")+"\n"+canon+r.URL.Path)
		keyID := strings.TrimSuffix(strings.SplitN(strings.TrimPrefix(r.Header.Get("Authorization"), "LOG "), ":", 2)[0], ":")
		if want := "LOG " + keyID + ":" + base64.StdEncoding.EncodeToString(mac.Sum(nil)); r.Header.Get("Authorization") != want {
			fail("Authorization %s, want %s", r.Header.Get("Authorization"), want)
		}
		rawSize, _ := strconv.Atoi(r.Header.Get("x-log-bodyrawsize"))
		raw := body
		switch r.Header.Get("x-log-compresstype") {
		case "lz4":
			raw = make([]byte, rawSize)
			n, err := lz4.UncompressBlock(body, raw)
			if err != nil || n != rawSize {
				fail("lz4: %v (%d of %d bytes)", err, n, rawSize)
			}
		case "deflate":
			zr, err := zlib.NewReader(bytes.NewReader(body))
			if err == nil {
				raw, err = io.ReadAll(zr)
			}
			if err != nil || len(raw) != rawSize {
				fail("deflate: %v (%d of %d bytes)", err, len(raw), rawSize)
			}
		}
		msg := typ.New()
		if err := proto.Unmarshal(raw, msg.Interface()); err != nil {
			fail("LogGroup: %v", err)
		}
		ls.mu.Lock()
		ls.groups = append(ls.groups, msg)
		answer := ls.answer
		ls.mu.Unlock()
		answer(w)
	}))
	t.Cleanup(func() {
		ls.Close()
		if len(ls.bad) > 0 {
			t.Errorf("bad requests: %v", ls.bad)
		}
	})
	return ls
}

// logs is each log of the groups received: time, then its contents as
// key=value in order.
func (ls *logService) logs() (out []string, topics []string) {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	for _, g := range ls.groups {
		fields := g.Descriptor().Fields()
		topics = append(topics, g.Get(fields.ByName("Topic")).String())
		list := g.Get(fields.ByName("Logs")).List()
		for i := 0; i < list.Len(); i++ {
			l := list.Get(i).Message()
			lf := l.Descriptor().Fields()
			at := time.Unix(int64(l.Get(lf.ByName("Time")).Uint()), int64(l.Get(lf.ByName("Time_ns")).Uint())).UTC()
			line := at.Format(time.RFC3339Nano)
			cs := l.Get(lf.ByName("Contents")).List()
			for j := 0; j < cs.Len(); j++ {
				c := cs.Get(j).Message()
				cf := c.Descriptor().Fields()
				line += " " + c.Get(cf.ByName("Key")).String() + "=" + c.Get(cf.ByName("Value")).String()
			}
			out = append(out, line)
		}
	}
	return out, topics
}

// build points the sink at ls: requests for <project>.<host> are dialled
// to the test server.
func build(t *testing.T, ls *logService, extra string) sinks.BatchSink {
	host := strings.TrimPrefix(ls.URL, "http://")
	s := sinktest.MustBuild(t, &Config{}, `sls: {endpoint: 'http://`+host+`', project: my-project, logstore: k8s-events`+extra+`}`).(*sink)
	s.client.Transport = dialTo(host)
	return s
}

// dialTo sends every request to addr, whatever its host.
func dialTo(addr string) http.RoundTripper {
	return &http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}}
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
		logs, topics := ls.logs()
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
	ls.mu.Lock()
	n := len(ls.groups)
	ls.mu.Unlock()
	if n != 1 {
		t.Fatalf("%d groups", n)
	}
	os.WriteFile(file, []byte(`{"AccessKeyId":"STS.2","AccessKeySecret":"wrong","SecurityToken":"tok-2"}`), 0o600)
	os.Chtimes(file, time.Now(), time.Now().Add(time.Hour))
	s.Send(context.Background(), testenv.SampleEvent())
	ls.mu.Lock()
	bad := ls.bad
	ls.bad = nil
	ls.mu.Unlock()
	if len(bad) != 1 || !strings.Contains(bad[0], "LOG STS.2:") {
		t.Errorf("the rewritten file was not used: %v", bad)
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
		ls.mu.Lock()
		ls.answer = func(w http.ResponseWriter) {
			w.WriteHeader(c.status)
			fmt.Fprintf(w, `{"errorCode":%q,"errorMessage":"m"}`, c.code)
		}
		ls.mu.Unlock()
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
