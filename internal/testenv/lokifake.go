package testenv

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"time"

	"github.com/golang/snappy"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// LokiServer decodes pushes the way Loki does: snappy, then the push
// protobuf, read through a descriptor of Loki's push.proto (logproto
// PushRequest, StreamAdapter, EntryAdapter) built here, not through the
// encoder under test. Loki itself is AGPL and does not build in CI time.
type LokiServer struct {
	URL string

	srv     *httptest.Server
	mu      sync.Mutex
	entries []LokiEntry
	headers []http.Header
	status  int
}

// LokiEntry is one pushed log line with its stream.
type LokiEntry struct {
	Labels string
	At     time.Time
	Line   string
}

var pushRequest = func() protoreflect.MessageDescriptor {
	str, msg, rep, opt := descriptorpb.FieldDescriptorProto_TYPE_STRING, descriptorpb.FieldDescriptorProto_TYPE_MESSAGE,
		descriptorpb.FieldDescriptorProto_LABEL_REPEATED, descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL
	field := func(name string, n int32, label descriptorpb.FieldDescriptorProto_Label, typ descriptorpb.FieldDescriptorProto_Type, typeName string) *descriptorpb.FieldDescriptorProto {
		f := &descriptorpb.FieldDescriptorProto{Name: proto.String(name), Number: proto.Int32(n), Label: label.Enum(), Type: typ.Enum()}
		if typeName != "" {
			f.TypeName = proto.String(typeName)
		}
		return f
	}
	fd := &descriptorpb.FileDescriptorProto{
		Name: proto.String("push.proto"), Package: proto.String("logproto"), Syntax: proto.String("proto3"),
		Dependency: []string{"google/protobuf/timestamp.proto"},
		MessageType: []*descriptorpb.DescriptorProto{
			{Name: proto.String("PushRequest"), Field: []*descriptorpb.FieldDescriptorProto{
				field("streams", 1, rep, msg, ".logproto.StreamAdapter")}},
			{Name: proto.String("StreamAdapter"), Field: []*descriptorpb.FieldDescriptorProto{
				field("labels", 1, opt, str, ""), field("entries", 2, rep, msg, ".logproto.EntryAdapter"),
				field("hash", 3, opt, descriptorpb.FieldDescriptorProto_TYPE_UINT64, "")}},
			{Name: proto.String("EntryAdapter"), Field: []*descriptorpb.FieldDescriptorProto{
				field("timestamp", 1, opt, msg, ".google.protobuf.Timestamp"), field("line", 2, opt, str, "")}},
		},
	}
	_ = timestamppb.Now // registers google/protobuf/timestamp.proto
	f, err := protodesc.NewFile(fd, protoregistry.GlobalFiles)
	if err != nil {
		panic(err)
	}
	return f.Messages().ByName("PushRequest")
}()

// NewLokiServer starts one on loopback, answering 204 to /loki/api/v1/push.
func NewLokiServer() *LokiServer {
	l := &LokiServer{status: http.StatusNoContent}
	l.srv = httptest.NewServer(http.HandlerFunc(l.serve))
	l.URL = l.srv.URL + "/loki/api/v1/push"
	return l
}

func (l *LokiServer) Close() { l.srv.Close() }

// SetStatus changes the answer to every push (429 to throttle, say).
func (l *LokiServer) SetStatus(code int) {
	l.mu.Lock()
	l.status = code
	l.mu.Unlock()
}

func (l *LokiServer) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/loki/api/v1/push" || r.Header.Get("Content-Type") != "application/x-protobuf" {
		http.Error(w, "want a protobuf push to /loki/api/v1/push", http.StatusBadRequest)
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.headers = append(l.headers, r.Header.Clone())
	if l.status != http.StatusNoContent {
		w.Header().Set("Retry-After", "1")
		http.Error(w, "ingestion rate limit exceeded", l.status)
		return
	}
	compressed, _ := io.ReadAll(r.Body)
	raw, err := snappy.Decode(nil, compressed)
	if err != nil {
		http.Error(w, "snappy: "+err.Error(), http.StatusBadRequest)
		return
	}
	req := dynamicpb.NewMessage(pushRequest)
	if err := proto.Unmarshal(raw, req); err != nil {
		http.Error(w, "protobuf: "+err.Error(), http.StatusBadRequest)
		return
	}
	streams := req.Get(pushRequest.Fields().ByName("streams")).List()
	for i := 0; i < streams.Len(); i++ {
		st := streams.Get(i).Message()
		labels := st.Get(st.Descriptor().Fields().ByName("labels")).String()
		entries := st.Get(st.Descriptor().Fields().ByName("entries")).List()
		for j := 0; j < entries.Len(); j++ {
			e := entries.Get(j).Message()
			ts := e.Get(e.Descriptor().Fields().ByName("timestamp")).Message()
			at := time.Unix(ts.Get(ts.Descriptor().Fields().ByName("seconds")).Int(), ts.Get(ts.Descriptor().Fields().ByName("nanos")).Int())
			l.entries = append(l.entries, LokiEntry{Labels: labels, At: at.UTC(), Line: e.Get(e.Descriptor().Fields().ByName("line")).String()})
		}
	}
	w.WriteHeader(http.StatusNoContent)
}

// Entries are the pushed lines, in push order; Headers each push's headers.
func (l *LokiServer) Entries() ([]LokiEntry, []http.Header) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]LokiEntry(nil), l.entries...), append([]http.Header(nil), l.headers...)
}
