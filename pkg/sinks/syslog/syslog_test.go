package syslog

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/eventide/eventide/internal/testenv"
	"github.com/eventide/eventide/internal/testenv/sinktest"
	"github.com/eventide/eventide/pkg/kube/event"
	"github.com/eventide/eventide/pkg/sinks"
)

func startRsyslog(t *testing.T) *testenv.Rsyslog {
	t.Helper()
	testenv.Outside(t, "rsyslog")
	r, err := testenv.StartRsyslog(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Stop)
	return r
}

func testEvent(name, typ string) *event.EnhancedEvent {
	ev := &event.EnhancedEvent{ClusterName: "prod-eu"}
	ev.Name, ev.Namespace, ev.Reason, ev.Type, ev.Message = name, "shop", "BackOff", typ, "Back-off restarting failed container"
	ev.LastTimestamp = metav1.NewTime(time.Date(2026, 11, 29, 10, 5, 0, 0, time.UTC))
	return ev
}

// rsyslog parses what eventide sends, over UDP and TCP (octet counting
// and newline framing), in both formats: priority from the event type,
// the event's own time, the cluster as host, the tag, the reason as MSGID.
func TestRsyslogParsesEveryTransportAndFormat(t *testing.T) {
	r := startRsyslog(t)
	cases := []struct{ network, format, framing string }{
		{"udp", "rfc5424", ""}, {"tcp", "rfc5424", "octet-counting"}, {"tcp", "rfc5424", "newline"},
		{"udp", "rfc3164", ""}, {"tcp", "rfc3164", "newline"},
	}
	var want []string
	for i, c := range cases {
		addr := r.UDP
		if c.network == "tcp" {
			addr = r.TCP
		}
		s := sinktest.MustBuild(t, &Config{}, fmt.Sprintf(`syslog: {network: %s, address: "%s", tag: kube-events, format: %s, framing: %q, facility: local3,
  layout: {name: "{{ .Name }}", msg: "{{ .Message }}"}}`, c.network, addr, c.format, c.framing))
		warn, normal := testEvent(fmt.Sprintf("w%d", i), "Warning"), testEvent(fmt.Sprintf("n%d", i), "Normal")
		sinktest.MustSendBatch(t, s, warn, normal)
		// rsyslog keeps an RFC 5424 timestamp as sent; an RFC 3164 one
		// has no year nor zone: it adds the current year and its zone (UTC
		// on the test machines).
		msgid, at := "BackOff", "2026-11-29T10:05:00.000000Z"
		if c.format == "rfc3164" {
			msgid, at = "-", fmt.Sprintf("%d-11-29T10:05:00+00:00", time.Now().Year())
		}
		// local3 = 19: warning 19*8+4, notice 19*8+5.
		want = append(want,
			fmt.Sprintf(`156|%s|prod-eu|kube-events|%s|{"name":"w%d","msg":"Back-off restarting failed container"}`, at, msgid, i),
			fmt.Sprintf(`157|%s|prod-eu|kube-events|%s|{"name":"n%d","msg":"Back-off restarting failed container"}`, at, msgid, i))
		lines, err := r.Lines(context.Background(), len(want))
		if err != nil {
			t.Fatalf("%+v: %v\n%s", c, err, strings.Join(lines, "\n"))
		}
		for j := len(want) - 2; j < len(want); j++ {
			got := strings.Replace(lines[j], "| {", "|{", 1) // rsyslog keeps the space before an RFC 3164 message
			if got != want[j] {
				t.Errorf("%+v:\n got %s\nwant %s", c, lines[j], want[j])
			}
		}
	}
}

// Over TLS the certificate is verified, and each message is framed by its
// length (RFC 6587), so a message with newlines stays one message.
func TestTLSOctetCounting(t *testing.T) {
	// httptest's certificate (for 127.0.0.1), on a plain TLS listener.
	srv := httptest.NewTLSServer(nil)
	defer srv.Close()
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", srv.TLS)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan []string, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		go func() { // later connections: the handshake only
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				_ = c.(*tls.Conn).Handshake()
				c.Close()
			}
		}()
		br := bufio.NewReader(c)
		var msgs []string
		for len(msgs) < 2 {
			n, err := br.ReadString(' ')
			if err != nil {
				break
			}
			size, _ := strconv.Atoi(strings.TrimSpace(n))
			buf := make([]byte, size)
			if _, err := io.ReadFull(br, buf); err != nil {
				break
			}
			msgs = append(msgs, string(buf))
		}
		got <- msgs
	}()
	s := sinktest.MustBuild(t, &Config{}, fmt.Sprintf(`syslog: {network: tls, address: "%s", tls: {caFile: %s}}`, ln.Addr(), caFile))
	ev := testEvent("multi", "Warning")
	ev.Message = "line one\nline two"
	sinktest.MustSendBatch(t, s, ev, testEvent("second", "Normal"))
	select {
	case msgs := <-got:
		if len(msgs) != 2 || !strings.Contains(msgs[0], `line one\nline two`) || !strings.HasPrefix(msgs[0], "<132>1 2026-11-29T10:05:00.000000Z prod-eu eventide - BackOff - ") {
			t.Errorf("messages %q", msgs)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no messages over TLS")
	}
	// An unknown CA is refused.
	bad := sinktest.MustBuild(t, &Config{}, fmt.Sprintf(`syslog: {network: tls, address: "%s"}`, ln.Addr()))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := bad.Send(ctx, ev); err == nil {
		t.Error("a certificate from an unknown CA was accepted")
	}
}

// A server that goes away: the send fails retryably and the next one
// dials again.
func TestReconnects(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := sinktest.MustBuild(t, &Config{}, fmt.Sprintf(`syslog: {network: tcp, address: "%s"}`, ln.Addr()))
	accepted := make(chan net.Conn, 2)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	defer ln.Close()
	sinktest.MustSendBatch(t, s, testEvent("a", "Normal"))
	(<-accepted).Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var failed error
	_ = testenv.PollUntil(ctx, 10*time.Millisecond, func() bool { // the peer's close shows on a later write
		failed = s.Send(ctx, testEvent("b", "Normal"))
		return failed != nil
	})
	if _, retry, _ := sinks.Classify(failed); failed == nil || !retry {
		t.Fatalf("writing to a closed connection: %v, want a retryable failure", failed)
	}
	sinktest.MustSendBatch(t, s, testEvent("c", "Normal"))
	select {
	case c := <-accepted:
		c.Close()
	case <-time.After(5 * time.Second):
		t.Fatal("no new connection after the failure")
	}
}

func TestConfigErrors(t *testing.T) {
	_, err := sinktest.Build(t, &Config{}, `syslog: {network: carrier-pigeon, format: rfc1149, framing: smoke, facility: galaxy, maxMessageBytes: 10}`)
	for _, want := range []string{"address: required", `network: "carrier-pigeon"`, `format: "rfc1149"`, `framing: "smoke"`, `facility: "galaxy"`, "maxMessageBytes: 10"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v lacks %q", err, want)
		}
	}
}

// A message over maxMessageBytes is cut on a character boundary.
func TestLongMessagesAreCut(t *testing.T) {
	s := sinktest.MustBuild(t, &Config{}, `syslog: {address: "127.0.0.1:1", maxMessageBytes: 600}`).(*syslogSink)
	ev := testEvent("long", "Warning")
	ev.Message = strings.Repeat("é", 1000)
	msg, err := s.message(ev)
	if err != nil {
		t.Fatal(err)
	}
	if len(msg) > 600 || len(msg) < 590 || !utf8.Valid(msg) {
		t.Errorf("%d bytes, valid UTF-8 %v", len(msg), utf8.Valid(msg))
	}
}

// BenchmarkSendBatch: batches of 100 events to rsyslog over TCP (its CPU
// is not in the figure: it is another process).
func BenchmarkSendBatch(b *testing.B) {
	testenv.Outside(b, "rsyslog")
	r, err := testenv.StartRsyslog(context.Background(), b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer r.Stop()
	s := sinktest.MustBuild(b, &Config{}, fmt.Sprintf(`syslog: {network: tcp, address: "%s", layout: {name: "{{ .Name }}", reason: "{{ .Reason }}"}}`, r.TCP))
	evs := make([]*event.EnhancedEvent, 100)
	for i := range evs {
		evs[i] = testEvent(fmt.Sprintf("e%d", i), "Warning")
	}
	sinktest.BenchSendBatch(b, s, func(int) []*event.EnhancedEvent { return evs })
}

// Over RELP (rsyslog's imrelp) every message is acknowledged: messages
// reach rsyslog as over TCP, and once rsyslog is gone a send fails
// (retryable) instead of counting bytes the kernel took as delivered.
func TestRELP(t *testing.T) {
	r := startRsyslog(t)
	if r.RELP == "" {
		t.Fatal("rsyslog's imrelp module is not installed: run `make tools` (hack/build-tools.sh), which `make test` does")
	}
	s := sinktest.MustBuild(t, &Config{}, fmt.Sprintf(`syslog: {network: relp, address: "%s", tag: kube-events, facility: local3,
  layout: {name: "{{ .Name }}"}}`, r.RELP))
	var evs []*event.EnhancedEvent
	for i := range 50 {
		evs = append(evs, testEvent(fmt.Sprintf("r%d", i), "Warning"))
	}
	sinktest.MustSendBatch(t, s, evs...)
	sinktest.MustSendBatch(t, s, testEvent("again", "Normal")) // the same session
	lines, err := r.Lines(context.Background(), 51)
	if err != nil {
		t.Fatal(err)
	}
	if want := `156|2026-11-29T10:05:00.000000Z|prod-eu|kube-events|BackOff|{"name":"r0"}`; lines[0] != want {
		t.Errorf("first line %s, want %s", lines[0], want)
	}
	if !strings.HasSuffix(lines[50], `{"name":"again"}`) {
		t.Errorf("last line %s", lines[50])
	}
	r.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err = s.Send(ctx, testEvent("lost", "Warning"))
	if _, retryable, _ := sinks.Classify(err); err == nil || !retryable {
		t.Errorf("a send with rsyslog gone: %v, want a retryable failure (no acknowledgement)", err)
	}
}
