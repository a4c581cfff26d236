package testenv

import (
	"bytes"
	"compress/zlib"
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pierrec/lz4/v4"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
)

// SLSFake is Alibaba Cloud Log Service's PutLogs endpoint (no local
// server exists): it checks each request's signature with its own
// computation, Content-MD5 and raw size, decompresses, decodes the
// LogGroup through a descriptor written here (Log Service's sls.proto),
// records the logs, and answers with Answer.
type SLSFake struct {
	*httptest.Server
	Project, Logstore string
	secret            string
	typ               protoreflect.MessageType
	mu                sync.Mutex
	logs              []SLSLog
	topics            []string
	keyIDs            []string
	bad               []string
	answer            func(w http.ResponseWriter)
}

// SLSLog is one log received.
type SLSLog struct {
	At       time.Time
	Contents [][2]string
}

// Line is the log as "time key=value …".
func (l SLSLog) Line() string {
	s := l.At.UTC().Format(time.RFC3339Nano)
	for _, c := range l.Contents {
		s += " " + c[0] + "=" + c[1]
	}
	return s
}

// Get is the value of key, "" when absent.
func (l SLSLog) Get(key string) string {
	for _, c := range l.Contents {
		if c[0] == key {
			return c[1]
		}
	}
	return ""
}

// NewSLSFake starts a fake for project and logstore whose requests must be
// signed with secret.
func NewSLSFake(project, logstore, secret string) (*SLSFake, error) {
	typ, err := slsLogGroupType()
	if err != nil {
		return nil, err
	}
	f := &SLSFake{Project: project, Logstore: logstore, secret: secret, typ: typ,
		answer: func(w http.ResponseWriter) { w.Header().Set("x-log-requestid", "1"); w.WriteHeader(http.StatusOK) }}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	return f, nil
}

// Host is the server's host:port, the receiver's endpoint.
func (f *SLSFake) Host() string { return strings.TrimPrefix(f.URL, "http://") }

// SetSecret changes the secret requests must be signed with.
func (f *SLSFake) SetSecret(s string) { f.mu.Lock(); f.secret = s; f.mu.Unlock() }

// SetAnswer replaces how the fake answers a well-formed request.
func (f *SLSFake) SetAnswer(a func(w http.ResponseWriter)) { f.mu.Lock(); f.answer = a; f.mu.Unlock() }

// Logs are the logs received, the topics of their groups and the key IDs
// that signed them.
func (f *SLSFake) Logs() (logs []SLSLog, topics, keyIDs []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]SLSLog(nil), f.logs...), append([]string(nil), f.topics...), append([]string(nil), f.keyIDs...)
}

// Bad lists the requests that failed a check, and forgets them.
func (f *SLSFake) Bad() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	b := f.bad
	f.bad = nil
	return b
}

func (f *SLSFake) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	defer f.mu.Unlock()
	fail := func(format string, a ...any) {
		f.bad = append(f.bad, fmt.Sprintf(format, a...))
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, `{"errorCode":"InvalidRequest","errorMessage":"rejected by the fake"}`)
	}
	if r.Host != f.Project+"."+f.Host() || r.URL.Path != "/logstores/"+f.Logstore+"/shards/lb" {
		fail("host %s path %s", r.Host, r.URL.Path)
		return
	}
	sum := md5.Sum(body)
	if r.Header.Get("Content-MD5") != strings.ToUpper(hex.EncodeToString(sum[:])) {
		fail("Content-MD5 %s", r.Header.Get("Content-MD5"))
		return
	}
	var canon string
	for _, h := range []string{"x-acs-security-token", "x-log-apiversion", "x-log-bodyrawsize", "x-log-compresstype", "x-log-signaturemethod"} {
		if v := r.Header.Get(h); v != "" {
			canon += h + ":" + v + "\n"
		}
	}
	mac := hmac.New(sha1.New, []byte(f.secret))
	io.WriteString(mac, "POST\n"+r.Header.Get("Content-MD5")+"\napplication/x-protobuf\n"+r.Header.Get("Date")+"\n"+canon+r.URL.Path)
	keyID, _, _ := strings.Cut(strings.TrimPrefix(r.Header.Get("Authorization"), "LOG "), ":")
	if want := "LOG " + keyID + ":" + base64.StdEncoding.EncodeToString(mac.Sum(nil)); r.Header.Get("Authorization") != want {
		fail("Authorization %s, want %s", r.Header.Get("Authorization"), want)
		return
	}
	rawSize, _ := strconv.Atoi(r.Header.Get("x-log-bodyrawsize"))
	raw := body
	switch r.Header.Get("x-log-compresstype") {
	case "lz4":
		raw = make([]byte, rawSize)
		if n, err := lz4.UncompressBlock(body, raw); err != nil || n != rawSize {
			fail("lz4: %v (%d of %d bytes)", err, n, rawSize)
			return
		}
	case "deflate":
		zr, err := zlib.NewReader(bytes.NewReader(body))
		if err == nil {
			raw, err = io.ReadAll(zr)
		}
		if err != nil || len(raw) != rawSize {
			fail("deflate: %v (%d of %d bytes)", err, len(raw), rawSize)
			return
		}
	}
	msg := f.typ.New()
	if err := proto.Unmarshal(raw, msg.Interface()); err != nil {
		fail("LogGroup: %v", err)
		return
	}
	fields := msg.Descriptor().Fields()
	f.topics = append(f.topics, msg.Get(fields.ByName("Topic")).String())
	f.keyIDs = append(f.keyIDs, keyID)
	list := msg.Get(fields.ByName("Logs")).List()
	for i := 0; i < list.Len(); i++ {
		l := list.Get(i).Message()
		lf := l.Descriptor().Fields()
		log := SLSLog{At: time.Unix(int64(l.Get(lf.ByName("Time")).Uint()), int64(l.Get(lf.ByName("Time_ns")).Uint()))}
		cs := l.Get(lf.ByName("Contents")).List()
		for j := 0; j < cs.Len(); j++ {
			c := cs.Get(j).Message()
			cf := c.Descriptor().Fields()
			log.Contents = append(log.Contents, [2]string{c.Get(cf.ByName("Key")).String(), c.Get(cf.ByName("Value")).String()})
		}
		f.logs = append(f.logs, log)
	}
	f.answer(w)
}

// slsLogGroupType builds LogGroup from a descriptor of sls.proto.
func slsLogGroupType() (protoreflect.MessageType, error) {
	type fd = descriptorpb.FieldDescriptorProto
	field := func(n string, num int32, label descriptorpb.FieldDescriptorProto_Label, typ descriptorpb.FieldDescriptorProto_Type, msg string) *fd {
		f := &fd{Name: proto.String(n), Number: proto.Int32(num), Label: label.Enum(), Type: typ.Enum()}
		if msg != "" {
			f.TypeName = proto.String(".sls." + msg)
		}
		return f
	}
	opt, rep, req := descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL, descriptorpb.FieldDescriptorProto_LABEL_REPEATED, descriptorpb.FieldDescriptorProto_LABEL_REQUIRED
	str, u32, f32, msg := descriptorpb.FieldDescriptorProto_TYPE_STRING, descriptorpb.FieldDescriptorProto_TYPE_UINT32, descriptorpb.FieldDescriptorProto_TYPE_FIXED32, descriptorpb.FieldDescriptorProto_TYPE_MESSAGE
	pair := func(name string) *descriptorpb.DescriptorProto {
		return &descriptorpb.DescriptorProto{Name: proto.String(name), Field: []*fd{field("Key", 1, req, str, ""), field("Value", 2, req, str, "")}}
	}
	file, err := protodesc.NewFile(&descriptorpb.FileDescriptorProto{Name: proto.String("sls.proto"), Package: proto.String("sls"), Syntax: proto.String("proto2"),
		MessageType: []*descriptorpb.DescriptorProto{
			pair("Content"), pair("LogTag"),
			{Name: proto.String("Log"), Field: []*fd{field("Time", 1, req, u32, ""), field("Contents", 2, rep, msg, "Content"), field("Time_ns", 4, opt, f32, "")}},
			{Name: proto.String("LogGroup"), Field: []*fd{field("Logs", 1, rep, msg, "Log"), field("Reserved", 2, opt, str, ""),
				field("Topic", 3, opt, str, ""), field("Source", 4, opt, str, ""), field("LogTags", 6, rep, msg, "LogTag")}},
		}}, nil)
	if err != nil {
		return nil, err
	}
	return dynamicpb.NewMessageType(file.Messages().ByName("LogGroup")), nil
}
