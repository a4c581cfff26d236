package syslog

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/eventide/eventide/pkg/sinks"
)

// RELP (the Reliable Event Logging Protocol of librelp, rsyslog's imrelp)
// acknowledges every message: a frame is "TXNR SP COMMAND SP DATALEN
// [SP DATA] LF", the server answers each with "TXNR rsp LEN 200 OK LF".
// Plain TCP counts bytes handed to the kernel as delivered, and loses
// what the kernel held when the connection drops; over RELP a message is
// delivered only once rsyslog said so.

// relpOffers is the session's "open" data: the version and the one
// command eventide sends.
const relpOffers = "relp_version=0\nrelp_software=eventide,1,https://github.com/eventide/eventide\ncommands=syslog"

// maxRELPAnswer bounds an answer's data (an "open" answer lists offers;
// a "rsp" is "200 OK"): a server sending more is not a RELP server.
const maxRELPAnswer = 64 << 10

// relpConn is an open RELP session.
type relpConn struct {
	conn net.Conn
	r    *bufio.Reader
	txnr int
}

// openRELP opens a session on conn: the "open" command and its 200.
func openRELP(conn net.Conn) (*relpConn, error) {
	c := &relpConn{conn: conn, r: bufio.NewReader(conn)}
	txnr := c.next()
	if _, err := conn.Write(relpFrame(nil, txnr, "open", []byte(relpOffers))); err != nil {
		return nil, err
	}
	got, code, msg, err := c.answer()
	switch {
	case err != nil:
		return nil, err
	case got != txnr || code != 200:
		return nil, fmt.Errorf("relp open refused: txnr %d, %d %s", got, code, msg)
	}
	return c, nil
}

// next is the next transaction number: 1 … 999 999 999, then 1 again.
func (c *relpConn) next() int {
	c.txnr = c.txnr%999999999 + 1
	return c.txnr
}

// relpFrame appends one frame to dst.
func relpFrame(dst []byte, txnr int, command string, data []byte) []byte {
	dst = strconv.AppendInt(dst, int64(txnr), 10)
	dst = append(dst, ' ')
	dst = append(dst, command...)
	dst = append(dst, ' ')
	dst = strconv.AppendInt(dst, int64(len(data)), 10)
	if len(data) > 0 {
		dst = append(dst, ' ')
		dst = append(dst, data...)
	}
	return append(dst, '\n')
}

// send writes msgs as syslog commands in one write and reads an answer
// for each: errs[i] is nil once the server acknowledged msgs[i]. A
// broken session fails the messages it did not acknowledge (retryable);
// the error says the connection must be dropped.
func (c *relpConn) send(buf []byte, msgs [][2]int) (errs []error, broken error) {
	errs = make([]error, len(msgs))
	frames := make([]byte, 0, len(buf)+len(msgs)*24)
	first := 0
	for i, m := range msgs {
		txnr := c.next()
		if i == 0 {
			first = txnr
		}
		frames = relpFrame(frames, txnr, "syslog", buf[m[0]:m[1]])
	}
	acked := make([]bool, len(msgs))
	fail := func(err error) ([]error, error) {
		for i := range errs {
			if !acked[i] {
				errs[i] = err
			}
		}
		return errs, err
	}
	if _, err := c.conn.Write(frames); err != nil {
		return fail(classifyNetErr(err))
	}
	for range msgs {
		txnr, code, msg, err := c.answer()
		if err != nil {
			return fail(unacked(acked, err))
		}
		i := txnr - first
		if i < 0 {
			i += 999999999 // numbers wrapped within the batch
		}
		if i < 0 || i >= len(msgs) || acked[i] {
			return fail(unacked(acked, fmt.Errorf("relp: an answer to transaction %d, which is not waiting", txnr)))
		}
		acked[i] = true
		if code != 200 {
			errs[i] = sinks.Retryable(sinks.ClassRejected, fmt.Errorf("relp: %d %s", code, msg), 0)
		}
	}
	return errs, nil
}

// unacked is the retryable failure of messages a session lost.
func unacked(acked []bool, err error) error {
	n := 0
	for _, a := range acked {
		if !a {
			n++
		}
	}
	return sinks.Retryable(sinks.ClassNetwork, fmt.Errorf("relp: %d messages not acknowledged: %w", n, err), 0)
}

func classifyNetErr(err error) error {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return sinks.Retryable(sinks.ClassTimeout, err, 0)
	}
	return sinks.Retryable(sinks.ClassNetwork, err, 0)
}

// answer reads one "rsp" frame: its transaction number, status code and
// text. A "serverclose" (the server ending the session) is an error.
func (c *relpConn) answer() (txnr, code int, msg string, err error) {
	head, err := c.r.ReadSlice(' ')
	if err != nil {
		return 0, 0, "", relpReadErr(err)
	}
	if txnr, err = strconv.Atoi(string(bytes.TrimSuffix(head, []byte(" ")))); err != nil {
		return 0, 0, "", fmt.Errorf("relp: a frame starting %q", head)
	}
	cmd, err := c.r.ReadSlice(' ')
	if err != nil {
		return 0, 0, "", relpReadErr(err)
	}
	command := string(bytes.TrimSuffix(cmd, []byte(" ")))
	var n int
	for {
		b, err := c.r.ReadByte()
		if err != nil {
			return 0, 0, "", relpReadErr(err)
		}
		if b == ' ' || b == '\n' {
			if b == '\n' && n != 0 {
				return 0, 0, "", errors.New("relp: a frame without its data")
			}
			if b == '\n' {
				return txnr, 0, "", relpCommandErr(command)
			}
			break
		}
		if b < '0' || b > '9' || n > maxRELPAnswer {
			return 0, 0, "", errors.New("relp: a frame with a bad or oversized length")
		}
		n = n*10 + int(b-'0')
	}
	data := make([]byte, n+1) // the data and the trailing LF
	if _, err := io.ReadFull(c.r, data); err != nil {
		return 0, 0, "", relpReadErr(err)
	}
	if err := relpCommandErr(command); err != nil {
		return 0, 0, "", err
	}
	text := string(data[:n])
	if len(text) < 3 {
		return 0, 0, "", fmt.Errorf("relp: answer %q has no status", text)
	}
	if code, err = strconv.Atoi(text[:3]); err != nil {
		return 0, 0, "", fmt.Errorf("relp: answer %q has no status", text)
	}
	msg, _, _ = strings.Cut(text[3:], "\n")
	return txnr, code, strings.TrimSpace(msg), nil
}

func relpCommandErr(command string) error {
	switch command {
	case "rsp":
		return nil
	case "serverclose":
		return errors.New("relp: the server closed the session")
	}
	return fmt.Errorf("relp: unexpected command %q from the server", command)
}

func relpReadErr(err error) error {
	if errors.Is(err, bufio.ErrBufferFull) {
		return errors.New("relp: a frame header over 4 KiB")
	}
	return err
}

// close ends the session politely; errors do not matter then.
func (c *relpConn) close() error {
	_ = c.conn.SetDeadline(time.Now().Add(time.Second))
	_, _ = c.conn.Write(relpFrame(nil, c.next(), "close", nil))
	return c.conn.Close()
}
