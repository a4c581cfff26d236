// Package syslog sends a message per event to a syslog server: RFC 5424
// (or RFC 3164 for old servers) over UDP, TCP or TLS, with RFC 6587
// octet-counting framing on streams (or newline framing for old servers),
// or over RELP (relp.go), where the server acknowledges every message.
//
// The severity comes from the event type (Warning is warning, anything
// else notice), not the emergency the old tool sent for everything; the
// timestamp is the event's own last occurrence, not the send time.
package syslog

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"github.com/eventide/eventide/pkg/kube/event"
	"github.com/eventide/eventide/pkg/sinks"
)

// batchDefaults: one write of up to 100 messages, sent at once.
var batchDefaults = sinks.BatchDefaults{Size: 100, Max: 10000}

// Config keeps the old keys (network, address, tag) and adds the rest.
type Config struct {
	// Network: udp (default), tcp, tls, or relp (rsyslog's imrelp: every
	// message acknowledged).
	Network string `yaml:"network"`
	Address string `yaml:"address"` // host:port
	// Tag is the APP-NAME (RFC 5424) or TAG (RFC 3164); default eventide.
	Tag string `yaml:"tag"`
	// Format: rfc5424 (default) or rfc3164.
	Format string `yaml:"format"`
	// Framing on tcp and tls: octet-counting (default) or newline.
	Framing string `yaml:"framing"`
	// Facility: kern … local7; default local0.
	Facility string `yaml:"facility"`
	// Hostname names the sender; default the config's clusterName at send
	// time, else the host's name.
	Hostname string `yaml:"hostname" tmpl:"true"`
	// MaxMessageBytes cuts longer messages (rsyslog's default limit is
	// 8 KiB); default 8192.
	MaxMessageBytes int             `yaml:"maxMessageBytes"`
	Layout          yaml.Node       `yaml:"layout"`
	DeDot           bool            `yaml:"deDot"`
	TLS             sinks.TLSConfig `yaml:"tls"`
	// batchSize (default 100) and flushInterval (default 0: what is
	// queued goes at once).
	sinks.Batching `yaml:",inline"`
}

var facilities = map[string]int{
	"kern": 0, "user": 1, "mail": 2, "daemon": 3, "auth": 4, "syslog": 5, "lpr": 6, "news": 7,
	"uucp": 8, "cron": 9, "authpriv": 10, "ftp": 11,
	"local0": 16, "local1": 17, "local2": 18, "local3": 19, "local4": 20, "local5": 21, "local6": 22, "local7": 23,
}

// Severities used: from the event type.
const (
	severityWarning = 4
	severityNotice  = 5
)

func (c *Config) Build(path string, deps sinks.Deps) (sinks.Sink, error) {
	var errs []error
	s := &syslogSink{address: c.Address, tag: orDefault(c.Tag, "eventide"), max: c.MaxMessageBytes}
	if s.max == 0 {
		s.max = 8192
	}
	if s.max < 480 {
		errs = append(errs, fmt.Errorf("%s.maxMessageBytes: %d is below the 480 bytes every syslog server takes", path, c.MaxMessageBytes))
	}
	if c.Address == "" {
		errs = append(errs, fmt.Errorf("%s.address: required (host:port)", path))
	} else if _, _, err := net.SplitHostPort(c.Address); err != nil {
		errs = append(errs, fmt.Errorf("%s.address: %w", path, err))
	}
	switch s.network = orDefault(strings.ToLower(c.Network), "udp"); s.network {
	case "udp", "tcp", "relp":
	case "tls", "tcp+tls":
		s.network = "tls"
		tc, err := c.TLS.Build(path + ".tls")
		errs = append(errs, err)
		sinks.WarnTLS(deps.Log, path, c.Address, c.TLS)
		s.tls = tc
	default:
		errs = append(errs, fmt.Errorf("%s.network: %q is not udp, tcp, tls or relp", path, c.Network))
	}
	switch s.format = orDefault(strings.ToLower(c.Format), "rfc5424"); s.format {
	case "rfc5424", "rfc3164":
	default:
		errs = append(errs, fmt.Errorf("%s.format: %q is not rfc5424 or rfc3164", path, c.Format))
	}
	switch s.framing = orDefault(strings.ToLower(c.Framing), "octet-counting"); s.framing {
	case "octet-counting", "newline":
	default:
		errs = append(errs, fmt.Errorf("%s.framing: %q is not octet-counting or newline", path, c.Framing))
	}
	f, ok := facilities[orDefault(strings.ToLower(c.Facility), "local0")]
	if !ok {
		errs = append(errs, fmt.Errorf("%s.facility: %q is not a syslog facility (kern, user, daemon, local0 … local7, …)", path, c.Facility))
	}
	s.facility = f
	if c.Hostname != "" {
		t, err := sinks.ParseTemplate(c.Hostname)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s.hostname: %w", path, err))
		}
		s.hostname = t
	}
	p, err := sinks.NewPayload(path, c.Layout, c.DeDot, deps.MaxPayloadBytes)
	errs = append(errs, err)
	s.payload = p
	s.Batching, err = c.Batching.CheckWith(path, batchDefaults)
	errs = append(errs, err)
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if h, err := os.Hostname(); err == nil {
		s.host = h
	}
	return s, nil
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

type syslogSink struct {
	network, address, format, framing, tag, host string
	facility, max                                int
	hostname                                     *sinks.Template
	payload                                      sinks.Payload
	tls                                          *tls.Config
	sinks.Batching

	mu   sync.Mutex
	conn net.Conn
	relp *relpConn // the session on conn, with network relp
	buf  []byte
}

func (s *syslogSink) Send(ctx context.Context, ev *event.EnhancedEvent) error {
	return s.SendBatch(ctx, []*event.EnhancedEvent{ev})[0]
}

// SendBatch writes the events' messages: one datagram each on UDP, one
// write of every framed message on a stream. A write that fails fails
// every event of the batch (retried); the connection is dialled again.
func (s *syslogSink) SendBatch(ctx context.Context, evs []*event.EnhancedEvent) []error {
	errs := make([]error, len(evs))
	s.mu.Lock()
	defer s.mu.Unlock()
	s.buf = s.buf[:0]
	var msgs [][2]int // start, end in buf of each rendered event's frame
	var idx []int
	for i, ev := range evs {
		msg, err := s.message(ev)
		if err != nil {
			errs[i] = err
			continue
		}
		start := len(s.buf)
		s.buf = s.frame(s.buf, msg)
		msgs = append(msgs, [2]int{start, len(s.buf)})
		idx = append(idx, i)
	}
	if len(msgs) == 0 {
		return errs
	}
	if s.network == "relp" {
		for j, err := range s.writeRELP(ctx, msgs) {
			errs[idx[j]] = err
		}
		return errs
	}
	if err := s.write(ctx, msgs); err != nil {
		for _, i := range idx {
			errs[i] = err
		}
	}
	return errs
}

// writeRELP sends the messages over a RELP session, opened when there is
// none: one error per message, nil for each the server acknowledged. A
// broken session is dropped and opened again on the next send.
func (s *syslogSink) writeRELP(ctx context.Context, msgs [][2]int) []error {
	if err := s.dial(ctx); err != nil {
		return repeatErr(err, len(msgs))
	}
	if s.relp == nil {
		deadline(ctx, s.conn)
		r, err := openRELP(s.conn)
		if err != nil {
			s.dropConn()
			return repeatErr(classifyNetErr(err), len(msgs))
		}
		s.relp = r
	}
	deadline(ctx, s.conn)
	errs, broken := s.relp.send(s.buf, msgs)
	if broken != nil {
		s.dropConn()
	}
	return errs
}

func repeatErr(err error, n int) []error {
	errs := make([]error, n)
	for i := range errs {
		errs[i] = err
	}
	return errs
}

// deadline sets conn's read and write deadline to ctx's (none without).
func deadline(ctx context.Context, conn net.Conn) {
	d, _ := ctx.Deadline()
	_ = conn.SetDeadline(d)
}

func (s *syslogSink) dropConn() {
	_ = s.conn.Close()
	s.conn, s.relp = nil, nil
}

// dial connects when there is no connection.
func (s *syslogSink) dial(ctx context.Context) error {
	if s.conn != nil {
		return nil
	}
	d := net.Dialer{}
	var err error
	switch s.network {
	case "tls":
		td := tls.Dialer{NetDialer: &d, Config: s.tls}
		s.conn, err = td.DialContext(ctx, "tcp", s.address)
	case "relp":
		s.conn, err = d.DialContext(ctx, "tcp", s.address)
	default:
		s.conn, err = d.DialContext(ctx, s.network, s.address)
	}
	if err != nil {
		s.conn = nil
		if cut, ok := sinks.CutShort(err); ok {
			return cut
		}
		return sinks.Retryable(sinks.ClassNetwork, err, 0)
	}
	return nil
}

// write sends the framed messages, dialling when there is no connection.
func (s *syslogSink) write(ctx context.Context, msgs [][2]int) error {
	if err := s.dial(ctx); err != nil {
		return err
	}
	if d, ok := ctx.Deadline(); ok {
		_ = s.conn.SetWriteDeadline(d)
	} else {
		_ = s.conn.SetWriteDeadline(time.Time{})
	}
	var err error
	if s.network == "udp" {
		for _, m := range msgs {
			if _, err = s.conn.Write(s.buf[m[0]:m[1]]); err != nil {
				break
			}
		}
	} else {
		_, err = s.conn.Write(s.buf[msgs[0][0]:msgs[len(msgs)-1][1]])
	}
	if err != nil {
		s.dropConn()
		return classifyNetErr(err)
	}
	return nil
}

// message is ev's syslog message, without framing.
func (s *syslogSink) message(ev *event.EnhancedEvent) ([]byte, error) {
	body, err := s.payload.Render(ev)
	if err != nil {
		return nil, err
	}
	host := s.host
	switch {
	case s.hostname != nil:
		if host, err = s.hostname.Render(ev); err != nil {
			return nil, fmt.Errorf("hostname: %w", err)
		}
	case ev.ClusterName != "":
		host = ev.ClusterName
	}
	severity := severityNotice
	if ev.Type == "Warning" {
		severity = severityWarning
	}
	pri := s.facility*8 + severity
	at := ev.GetLastTime()
	if at.IsZero() {
		at = time.Now()
	}
	var head string
	if s.format == "rfc3164" {
		head = fmt.Sprintf("<%d>%s %s %s: ", pri, at.UTC().Format(time.Stamp), header(host, 255), header(s.tag, 32))
	} else {
		head = fmt.Sprintf("<%d>1 %s %s %s - %s - ", pri, at.UTC().Format("2006-01-02T15:04:05.000000Z07:00"),
			header(host, 255), header(s.tag, 48), header(ev.Reason, 32))
	}
	msg := append([]byte(head), body...)
	if len(msg) > s.max {
		msg = cutUTF8(msg, s.max)
	}
	return msg, nil
}

// frame appends msg framed for the transport: as it is on UDP, with its
// length (octet counting) or a newline on streams.
func (s *syslogSink) frame(dst, msg []byte) []byte {
	switch {
	case s.network == "udp" || s.network == "relp": // a RELP frame carries the length
		return append(dst, msg...)
	case s.framing == "newline":
		return append(append(dst, msg...), '\n')
	}
	return append(append(append(dst, strconv.Itoa(len(msg))...), ' '), msg...)
}

// header makes v a valid header field: printable ASCII without spaces, at
// most n bytes, "-" when empty.
func header(v string, n int) string {
	b := make([]byte, 0, min(len(v), n))
	for i := 0; i < len(v) && len(b) < n; i++ {
		if c := v[i]; c > 32 && c < 127 {
			b = append(b, c)
		}
	}
	if len(b) == 0 {
		return "-"
	}
	return string(b)
}

// cutUTF8 cuts b to at most n bytes without splitting a character.
func cutUTF8(b []byte, n int) []byte {
	for n > 0 && !utf8.RuneStart(b[n]) {
		n--
	}
	return b[:n]
}

func (s *syslogSink) Preview(ev *event.EnhancedEvent) (any, error) {
	msg, err := s.message(ev)
	if err != nil {
		return nil, err
	}
	return map[string]string{"network": s.network, "address": s.address, "message": string(msg)}, nil
}

func (s *syslogSink) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.relp != nil {
		err := s.relp.close()
		s.conn, s.relp = nil, nil
		return err
	}
	if s.conn != nil {
		err := s.conn.Close()
		s.conn = nil
		return err
	}
	return nil
}

// Send and Preview build the message with the same code.
var _ sinks.Previewer = (*syslogSink)(nil)
var _ sinks.BatchSink = (*syslogSink)(nil)
