package loki

import (
	"time"

	"google.golang.org/protobuf/encoding/protowire"
)

// The push API's protobuf (Loki's push.proto), encoded by hand: three
// small messages, not worth a generated package.
//
//	PushRequest   { repeated Stream streams = 1; }
//	Stream        { string labels = 1; repeated Entry entries = 2; }
//	Entry         { google.protobuf.Timestamp timestamp = 1; string line = 2; }
//	Timestamp     { int64 seconds = 1; int32 nanos = 2; }
type stream struct {
	labels  string // {name="value", …}
	entries []entry
}

type entry struct {
	at   time.Time
	line []byte
}

func appendPushRequest(b []byte, streams []*stream) []byte {
	for _, s := range streams {
		b = protowire.AppendTag(b, 1, protowire.BytesType)
		b = protowire.AppendBytes(b, appendStream(nil, s))
	}
	return b
}

func appendStream(b []byte, s *stream) []byte {
	b = protowire.AppendTag(b, 1, protowire.BytesType)
	b = protowire.AppendString(b, s.labels)
	for _, e := range s.entries {
		var ts []byte
		if sec := e.at.Unix(); sec != 0 {
			ts = protowire.AppendTag(ts, 1, protowire.VarintType)
			ts = protowire.AppendVarint(ts, uint64(sec))
		}
		if ns := e.at.Nanosecond(); ns != 0 {
			ts = protowire.AppendTag(ts, 2, protowire.VarintType)
			ts = protowire.AppendVarint(ts, uint64(int64(ns)))
		}
		var eb []byte
		eb = protowire.AppendTag(eb, 1, protowire.BytesType)
		eb = protowire.AppendBytes(eb, ts)
		eb = protowire.AppendTag(eb, 2, protowire.BytesType)
		eb = protowire.AppendBytes(eb, e.line)
		b = protowire.AppendTag(b, 2, protowire.BytesType)
		b = protowire.AppendBytes(b, eb)
	}
	return b
}
