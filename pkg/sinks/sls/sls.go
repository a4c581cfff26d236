// Package sls writes events to Alibaba Cloud Log Service (SLS), kube-eventer's
// most used sink there: one PutLogs call per batch, a LogGroup protobuf
// compressed with LZ4 or deflate, signed with the AccessKey or an STS token.
package sls

import (
	"bytes"
	"compress/zlib"
	"context"
	"crypto/md5" //nolint:gosec // Content-MD5, as the API asks
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pierrec/lz4/v4"

	"github.com/eventide/eventide/pkg/kube/event"
	"github.com/eventide/eventide/pkg/sinks"
)

// Config writes events to a logstore.
type Config struct {
	// Endpoint is the region's, e.g. cn-hangzhou.log.aliyuncs.com or
	// cn-hangzhou-intranet.log.aliyuncs.com (https unless it says http://);
	// requests go to <project>.<endpoint>.
	Endpoint        string       `yaml:"endpoint"`
	Project         string       `yaml:"project"`
	Logstore        string       `yaml:"logstore"`
	Topic           string       `yaml:"topic"`
	Source          string       `yaml:"source"`
	AccessKeyID     string       `yaml:"accessKeyID"`
	AccessKeySecret sinks.Secret `yaml:"accessKeySecret"`
	// CredentialsFile is an STS token as JSON (AccessKeyId,
	// AccessKeySecret, SecurityToken, Expiration), kept fresh by something
	// else: ACK's /var/addon/token-config.
	CredentialsFile string `yaml:"credentialsFile"`
	Compression     string `yaml:"compression"` // lz4 (default), deflate, none
	// Contents are each log's keys and values (templates); an empty value
	// is left out. Default: eventide's flat event.
	Contents map[string]string `yaml:"contents" tmpl:"true"`
	// Tags are the log group's tags (__tag__:KEY), the same for every log.
	Tags           map[string]string `yaml:"tags"`
	sinks.Batching `yaml:",inline"`
	TLS            sinks.TLSConfig `yaml:"tls"`
}

var defaultContents = map[string]string{
	"cluster":   "{{ .ClusterName }}",
	"namespace": "{{ .InvolvedObject.Namespace }}",
	"kind":      "{{ .InvolvedObject.Kind }}",
	"name":      "{{ .InvolvedObject.Name }}",
	"workload":  "{{ with .InvolvedObject.Workload }}{{ .Kind }}/{{ .Name }}{{ end }}",
	"reason":    "{{ .Reason }}",
	"type":      "{{ .Type }}",
	"message":   "{{ .Message }}",
	"count":     "{{ .GetCount }}",
	"component": "{{ if .Source.Component }}{{ .Source.Component }}{{ else }}{{ .ReportingController }}{{ end }}",
	"host":      "{{ .Source.Host }}",
	"eventID":   "{{ .EventID }}",
}

// The API's limits on names and one PutLogs call.
var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{1,126}[a-z0-9]$`)

const (
	maxLogs     = 4096
	maxRawBytes = 5 << 20 // uncompressed body; 3 MiB for x-log-bodyrawsize in old docs, 5 MiB now
)

func (c *Config) Build(path string, deps sinks.Deps) (sinks.Sink, error) {
	var errs []error
	if c.Endpoint == "" {
		errs = append(errs, fmt.Errorf("%s.endpoint: required (the region's, e.g. cn-hangzhou.log.aliyuncs.com)", path))
	}
	raw := c.Endpoint
	if !strings.Contains(raw, "://") {
		raw = "https://" + raw
	}
	endpoint, err := sinks.CheckEndpoint(path+".endpoint", raw, false, sinks.HTTPOrHTTPS)
	errs = append(errs, err)
	if !nameRE.MatchString(c.Project) {
		errs = append(errs, fmt.Errorf("%s.project: %q is not a project name (3–63 lowercase letters, digits and -)", path, c.Project))
	}
	if !nameRE.MatchString(c.Logstore) {
		errs = append(errs, fmt.Errorf("%s.logstore: %q is not a logstore name (lowercase letters, digits, _ and -)", path, c.Logstore))
	}
	creds := &credentials{keyID: c.AccessKeyID, secret: c.AccessKeySecret.Value(), file: c.CredentialsFile, now: time.Now}
	switch {
	case c.CredentialsFile != "" && (c.AccessKeyID != "" || c.AccessKeySecret != ""):
		errs = append(errs, fmt.Errorf("%s: accessKeyID/accessKeySecret or credentialsFile, not both", path))
	case c.CredentialsFile == "" && (c.AccessKeyID == "" || c.AccessKeySecret == ""):
		errs = append(errs, fmt.Errorf("%s: set accessKeyID and accessKeySecret, or credentialsFile (an STS token)", path))
	}
	s := &sink{topic: c.Topic, source: c.Source, compression: c.Compression, creds: creds}
	if s.compression == "" {
		s.compression = "lz4"
	}
	if s.compression != "lz4" && s.compression != "deflate" && s.compression != "none" {
		errs = append(errs, fmt.Errorf("%s.compression: %q: use lz4, deflate or none", path, c.Compression))
	}
	contents := c.Contents
	if contents == nil {
		contents = defaultContents
	}
	s.contents, err = sinks.ParseTemplateMap(path+".contents", contents)
	errs = append(errs, err)
	for _, k := range slices.Sorted(maps.Keys(c.Tags)) {
		s.tags = append(s.tags, [2]string{k, c.Tags[k]})
	}
	s.Batching, err = c.Batching.CheckWith(path, sinks.BatchDefaults{Size: 500, Flush: time.Second, Max: maxLogs})
	errs = append(errs, err)
	tc, err := c.TLS.Build(path + ".tls")
	errs = append(errs, err)
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	endpoint.Warn(deps.Log, c.TLS, true)
	// Requests go to <project>.<endpoint>; an endpoint that is an address
	// (a private link, a proxy) has no subdomains: it gets the request with
	// that name as its Host.
	s.host = c.Project + "." + endpoint.URL.Host
	s.url = endpoint.URL.Scheme + "://" + s.host + "/logstores/" + c.Logstore + "/shards/lb"
	if h := endpoint.URL.Hostname(); net.ParseIP(h) != nil || h == "localhost" {
		s.url = endpoint.URL.Scheme + "://" + endpoint.URL.Host + "/logstores/" + c.Logstore + "/shards/lb"
	}
	s.client = sinks.NewHTTPClient(tc)
	return s, nil
}

type sink struct {
	sinks.Batching
	url           string
	host          string // <project>.<endpoint>: the Host header
	topic, source string
	compression   string
	contents      *sinks.TemplateMap
	tags          [][2]string
	creds         *credentials
	client        *http.Client
	now           func() time.Time // nil: time.Now
}

func (s *sink) Send(ctx context.Context, ev *event.EnhancedEvent) error {
	return s.SendBatch(ctx, []*event.EnhancedEvent{ev})[0]
}

func (s *sink) logEntry(ev *event.EnhancedEvent) (logEntry, error) {
	kv, err := s.contents.Render(ev)
	if err != nil {
		return logEntry{}, fmt.Errorf("contents.%w", err)
	}
	l := logEntry{at: ev.GetLastTime()}
	for _, c := range kv {
		if c[1] != "" {
			l.contents = append(l.contents, c)
		}
	}
	return l, nil
}

// SendBatch writes evs in one PutLogs call; the service takes a log
// group whole or not at all.
func (s *sink) SendBatch(ctx context.Context, evs []*event.EnhancedEvent) []error {
	errs := make([]error, len(evs))
	var logs []logEntry
	var index []int
	for i, ev := range evs {
		l, err := s.logEntry(ev)
		if err != nil {
			errs[i] = err
			continue
		}
		logs, index = append(logs, l), append(index, i)
	}
	if len(logs) == 0 {
		return errs
	}
	err := s.put(ctx, appendLogGroup(nil, logs, s.topic, s.source, s.tags))
	for _, i := range index {
		errs[i] = err
	}
	return errs
}

func (s *sink) put(ctx context.Context, raw []byte) error {
	if len(raw) > maxRawBytes {
		return sinks.Permanent(sinks.ClassTooLarge, fmt.Errorf("sls: log group of %d bytes is over the %d a call takes (lower batchSize)", len(raw), maxRawBytes))
	}
	body, err := compress(s.compression, raw)
	if err != nil {
		return sinks.Permanent(sinks.ClassOther, err)
	}
	keyID, secret, token, err := s.creds.get()
	if err != nil {
		return sinks.Retryable(sinks.ClassIO, err, 0) // the file may be rewritten
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(body))
	if err != nil {
		return sinks.Permanent(sinks.ClassOther, sinks.RedactURLError(err))
	}
	req.Host = s.host
	sum := md5.Sum(body) //nolint:gosec // the API's Content-MD5
	now := time.Now
	if s.now != nil {
		now = s.now
	}
	h := req.Header
	h.Set("Content-Type", "application/x-protobuf")
	h.Set("Content-MD5", strings.ToUpper(hex.EncodeToString(sum[:])))
	h.Set("Date", now().UTC().Format(http.TimeFormat))
	h.Set("User-Agent", "eventide")
	h.Set("x-log-apiversion", "0.6.0")
	h.Set("x-log-signaturemethod", "hmac-sha1")
	h.Set("x-log-bodyrawsize", strconv.Itoa(len(raw)))
	if s.compression != "none" {
		h.Set("x-log-compresstype", s.compression)
	}
	if token != "" {
		h.Set("x-acs-security-token", token)
	}
	sign(req, keyID, secret)
	resp, err := s.client.Do(req)
	if err != nil {
		return sinks.TransportError(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		return nil
	}
	return answerError(resp)
}

// answerError classifies Log Service's refusal: {"errorCode", "errorMessage"}.
func answerError(resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	var a struct{ ErrorCode, ErrorMessage string }
	_ = json.Unmarshal(b, &a)
	err := fmt.Errorf("sls: HTTP %d %s: %s", resp.StatusCode, a.ErrorCode, sinks.Truncate(a.ErrorMessage, 200))
	switch {
	case a.ErrorCode == "WriteQuotaExceed" || a.ErrorCode == "ShardWriteQuotaExceed" || resp.StatusCode == http.StatusTooManyRequests:
		return sinks.Retryable(sinks.ClassRateLimited, err, sinks.ParseRetryAfter(resp.Header.Get("Retry-After"), time.Now()))
	case a.ErrorCode == "RequestTimeExpired" || resp.StatusCode >= 500:
		return sinks.Retryable(sinks.ClassHTTP5xx, err, 0) // a clock skew heals with the next Date
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		return sinks.RedirectError(resp.StatusCode, resp.Header.Get("Location"))
	case a.ErrorCode == "SignatureNotMatch" || a.ErrorCode == "Unauthorized" || a.ErrorCode == "InvalidAccessKeyId":
		return sinks.Permanent(sinks.ClassHTTP4xx, fmt.Errorf("%w (check the AccessKey or the STS token)", err))
	}
	return sinks.Permanent(sinks.ClassHTTP4xx, err)
}

func compress(kind string, raw []byte) ([]byte, error) {
	switch kind {
	case "lz4":
		out := make([]byte, lz4.CompressBlockBound(len(raw)))
		n, err := lz4.CompressBlock(raw, out, nil)
		if err != nil {
			return nil, err
		}
		if n == 0 { // incompressible: one literal run is a valid block
			return literalBlock(raw), nil
		}
		return out[:n], nil
	case "deflate":
		var b bytes.Buffer
		w := zlib.NewWriter(&b)
		_, _ = w.Write(raw)
		if err := w.Close(); err != nil {
			return nil, err
		}
		return b.Bytes(), nil
	}
	return raw, nil
}

// literalBlock is raw as an LZ4 block of literals only: a token whose
// high nibble is the length (15 and then 255s and a rest past 14), and the
// bytes.
func literalBlock(raw []byte) []byte {
	n := len(raw)
	out := make([]byte, 0, n+n/255+2)
	if n < 15 {
		out = append(out, byte(n<<4))
	} else {
		out = append(out, 0xF0)
		for rest := n - 15; ; rest -= 255 {
			if rest < 255 {
				out = append(out, byte(rest))
				break
			}
			out = append(out, 255)
		}
	}
	return append(out, raw...)
}

func (s *sink) Preview(ev *event.EnhancedEvent) (any, error) {
	l, err := s.logEntry(ev)
	if err != nil {
		return nil, err
	}
	contents := map[string]string{}
	for _, c := range l.contents {
		contents[c[0]] = c[1]
	}
	return map[string]any{"url": sinks.RedactURL(s.url) + "/logstores/…", "time": l.at, "topic": s.topic, "contents": contents}, nil
}

func (s *sink) Close() error {
	s.client.CloseIdleConnections()
	return nil
}

var (
	_ sinks.Lingerer  = (*sink)(nil)
	_ sinks.Previewer = (*sink)(nil)
)
