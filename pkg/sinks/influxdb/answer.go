package influxdb

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/eventide/eventide/pkg/sinks"
)

// writeError is a write InfluxDB answered with an error status: what it
// said, for classify to tell which points it refused.
type writeError struct {
	status     int
	msg        string
	line       int // v2: the first bad line (1-based); 0 when not said
	retryAfter string
}

func (e *writeError) Error() string {
	return fmt.Sprintf("influxdb: HTTP %d: %s", e.status, sinks.Truncate(e.msg, 300))
}

// answer reads a write's answer: nil for 2xx, a *writeError for an error
// status, a classified error for no answer or a redirect.
func answer(resp *http.Response, err error) error {
	if err != nil {
		return sinks.TransportError(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		return sinks.RedirectError(resp.StatusCode, resp.Header.Get("Location"))
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var v struct {
		Error   string `json:"error"`   // v1
		Message string `json:"message"` // v2
		Line    int    `json:"line"`    // v2
	}
	msg := strings.TrimSpace(string(b))
	if json.Unmarshal(b, &v) == nil {
		msg = v.Error + v.Message
	}
	return &writeError{status: resp.StatusCode, msg: msg, line: v.Line, retryAfter: resp.Header.Get("Retry-After")}
}

var (
	lineNumber  = regexp.MustCompile(`(?i)\bline (\d+)\b`)
	droppedHint = regexp.MustCompile(`dropped=(\d+)`)
)

// classify is what each of n points' events becomes after a failed
// write (the lines in the order sent):
//   - a field type conflict: every point is refused for good, a
//     configuration error (a field of this measurement has another type);
//   - v2's bad line (it refuses the whole batch and names the first one):
//     that point is refused for good, the rest are sent again;
//   - v1's partial write keeps the good points: the batch counts as
//     written, and what was dropped is logged by the caller (v1 does not
//     say which points);
//   - other statuses as any HTTP answer: 429 and 5xx retried, 4xx not.
func (s *sink) classify(err error, n int) (errs []error, dropped int) {
	errs = make([]error, n)
	we, ok := err.(*writeError)
	if !ok {
		for i := range errs {
			errs[i] = err
		}
		return errs, 0
	}
	all := func(e error) ([]error, int) {
		for i := range errs {
			errs[i] = e
		}
		return errs, 0
	}
	switch {
	case strings.Contains(we.msg, "field type conflict"):
		return all(sinks.Permanent(sinks.ClassRejected, fmt.Errorf("%w (configuration: a field eventide writes has another type in this measurement already; set another measurement)", we)))
	case we.status == http.StatusRequestEntityTooLarge:
		return all(sinks.Permanent(sinks.ClassTooLarge, fmt.Errorf("%w (lower batchSize)", we)))
	case we.status == http.StatusNotFound:
		return all(sinks.Permanent(sinks.ClassHTTP4xx, fmt.Errorf("%w (does the database or bucket exist?)", we)))
	case we.status == http.StatusTooManyRequests || we.status >= 500:
		return all(sinks.HTTPStatusError(we.status, we.retryAfter, []byte(we.msg)))
	case !s.v2 && strings.Contains(we.msg, "partial write"):
		d := n
		if m := droppedHint.FindStringSubmatch(we.msg); m != nil {
			d, _ = strconv.Atoi(m[1])
		}
		return errs, d
	case s.v2 && (we.status == http.StatusBadRequest || we.status == http.StatusUnprocessableEntity):
		line := we.line
		if m := lineNumber.FindStringSubmatch(we.msg); line == 0 && m != nil {
			line, _ = strconv.Atoi(m[1])
		}
		if line < 1 || line > n {
			return all(sinks.Permanent(sinks.ClassRejected, we))
		}
		for i := range errs {
			errs[i] = sinks.Retryable(sinks.ClassRejected, fmt.Errorf("influxdb refused the batch for line %d: sent again without it", line), time.Millisecond)
		}
		errs[line-1] = sinks.Permanent(sinks.ClassRejected, we)
		return errs, 0
	}
	return all(sinks.HTTPStatusError(we.status, we.retryAfter, []byte(we.msg)))
}
