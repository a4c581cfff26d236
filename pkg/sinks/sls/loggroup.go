package sls

import (
	"time"

	"google.golang.org/protobuf/encoding/protowire"
)

// The PutLogs body, Log Service's LogGroup protobuf, encoded by hand:
//
//	LogGroup { repeated Log Logs = 1; optional string Topic = 3; optional string Source = 4; repeated LogTag LogTags = 6; }
//	Log      { required uint32 Time = 1; repeated Content Contents = 2; optional fixed32 Time_ns = 4; }
//	Content  { required string Key = 1; required string Value = 2; }
//	LogTag   { required string Key = 1; required string Value = 2; }
type logEntry struct {
	at       time.Time
	contents [][2]string
}

func appendLogGroup(b []byte, logs []logEntry, topic, source string, tags [][2]string) []byte {
	for _, l := range logs {
		b = protowire.AppendTag(b, 1, protowire.BytesType)
		b = protowire.AppendBytes(b, appendLog(nil, l))
	}
	if topic != "" {
		b = protowire.AppendTag(b, 3, protowire.BytesType)
		b = protowire.AppendString(b, topic)
	}
	if source != "" {
		b = protowire.AppendTag(b, 4, protowire.BytesType)
		b = protowire.AppendString(b, source)
	}
	for _, t := range tags {
		b = protowire.AppendTag(b, 6, protowire.BytesType)
		b = protowire.AppendBytes(b, appendPair(nil, t))
	}
	return b
}

func appendLog(b []byte, l logEntry) []byte {
	b = protowire.AppendTag(b, 1, protowire.VarintType)
	b = protowire.AppendVarint(b, uint64(uint32(l.at.Unix())))
	for _, c := range l.contents {
		b = protowire.AppendTag(b, 2, protowire.BytesType)
		b = protowire.AppendBytes(b, appendPair(nil, c))
	}
	b = protowire.AppendTag(b, 4, protowire.Fixed32Type)
	return protowire.AppendFixed32(b, uint32(l.at.Nanosecond()))
}

func appendPair(b []byte, kv [2]string) []byte {
	b = protowire.AppendTag(b, 1, protowire.BytesType)
	b = protowire.AppendString(b, kv[0])
	b = protowire.AppendTag(b, 2, protowire.BytesType)
	return protowire.AppendString(b, kv[1])
}
