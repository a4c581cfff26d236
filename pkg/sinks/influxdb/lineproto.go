package influxdb

import (
	"hash/fnv"
	"sort"
	"strconv"
	"strings"
	"time"
)

// point is one line of InfluxDB's line protocol.
type point struct {
	measurement string
	tags        [][2]string // sorted by key; empty values left out
	fields      [][2]string // string fields
	count       int64       // the integer field "count"
	at          time.Time
}

var (
	measurementEscaper = strings.NewReplacer(`,`, `\,`, ` `, `\ `, "\n", `\n`, "\r", `\r`)
	tagEscaper         = strings.NewReplacer(`,`, `\,`, `=`, `\=`, ` `, `\ `, "\n", `\n`, "\r", `\r`)
	stringEscaper      = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "\r", `\r`)
)

// appendLine writes p as one line: measurement,tags fields time.
func (p *point) appendLine(b []byte) []byte {
	b = append(b, measurementEscaper.Replace(p.measurement)...)
	sort.Slice(p.tags, func(i, j int) bool { return p.tags[i][0] < p.tags[j][0] })
	for _, t := range p.tags {
		if t[1] == "" {
			continue // line protocol has no empty tag values
		}
		b = append(b, ',')
		b = append(b, tagEscaper.Replace(t[0])...)
		b = append(b, '=')
		b = append(b, tagEscaper.Replace(t[1])...)
	}
	b = append(b, " count="...)
	b = strconv.AppendInt(b, p.count, 10)
	b = append(b, 'i')
	for _, f := range p.fields {
		b = append(b, ',')
		b = append(b, tagEscaper.Replace(f[0])...)
		b = append(b, `="`...)
		b = append(b, stringEscaper.Replace(f[1])...)
		b = append(b, '"')
	}
	b = append(b, ' ')
	b = strconv.AppendInt(b, p.at.UnixNano(), 10)
	return append(b, '\n')
}

// pointTime is when the occurrence happened, made unique: a point is
// identified by measurement, tags and time, so two pods failing for the
// same reason in the same second would overwrite each other. A
// deterministic offset under a millisecond from the Event UID and count
// keeps them apart, and puts a resent occurrence on the same point.
func pointTime(last time.Time, uid string, count int32) time.Time {
	h := fnv.New64a()
	h.Write([]byte(uid))
	h.Write([]byte{byte(count), byte(count >> 8), byte(count >> 16), byte(count >> 24)})
	return last.Truncate(time.Millisecond).Add(time.Duration(h.Sum64() % uint64(time.Millisecond)))
}
