// Package s3 archives events to S3 (or MinIO, Ceph, R2, GCS
// interoperability): gzip-compressed JSON lines, one object per batch,
// under Hive-style time partitions that Athena and DuckDB read. An event
// counts as delivered only once the object holding it was uploaded.
package s3

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/eventide/eventide/pkg/kube/event"
	"github.com/eventide/eventide/pkg/sinks"
	"github.com/eventide/eventide/pkg/sinks/aws/awsbase"
)

// Config archives events to a bucket.
type Config struct {
	Bucket string `yaml:"bucket"`
	// Prefix is the objects' first path part (a template on the batch's
	// first event, e.g. per cluster); default kubernetes-events.
	Prefix string `yaml:"prefix" tmpl:"true"`
	// Key replaces the whole key (a template on the batch's first event);
	// {firstRV}, {lastRV} and {hash} are filled in after, and {hash} is
	// required: a retried batch keeps its key, another batch gets another.
	Key            string    `yaml:"key" tmpl:"true"`
	Layout         yaml.Node `yaml:"layout"` // default the whole event
	DeDot          bool      `yaml:"deDot"`
	ForcePathStyle bool      `yaml:"forcePathStyle"` // MinIO, Ceph: bucket in the path
	StorageClass   string    `yaml:"storageClass"`
	SSE            struct {
		Type     string `yaml:"type"` // AES256 or aws:kms
		KMSKeyID string `yaml:"kmsKeyID"`
	} `yaml:"sse"`
	// MaxEvents and MaxAge end a batch: whichever comes first; MaxBytes
	// caps one object (uncompressed): a larger batch is several objects.
	MaxEvents      int           `yaml:"maxEvents"`
	MaxAge         time.Duration `yaml:"maxAge"`
	MaxBytes       int           `yaml:"maxBytes"`
	awsbase.Config `yaml:",inline"`
}

// Defaults.
const (
	DefaultPrefix    = "kubernetes-events"
	DefaultMaxEvents = 10000
	DefaultMaxAge    = time.Minute
	DefaultMaxBytes  = 16 << 20
	maxKeyBytes      = 1024 // S3's limit
	maxObjectBytes   = 5 << 30
)

func (c *Config) Build(path string, deps sinks.Deps) (sinks.Sink, error) {
	var errs []error
	if !bucketName(c.Bucket) {
		errs = append(errs, fmt.Errorf("%s.bucket: %q is not a bucket name (3–63 lowercase letters, digits, dots and hyphens)", path, c.Bucket))
	}
	s := &sink{bucket: c.Bucket, pathStyle: c.ForcePathStyle || strings.Contains(c.Bucket, "."),
		maxEvents: c.MaxEvents, maxAge: c.MaxAge, maxBytes: c.MaxBytes}
	if s.maxEvents == 0 {
		s.maxEvents = DefaultMaxEvents
	}
	if s.maxAge == 0 {
		s.maxAge = DefaultMaxAge
	}
	if s.maxBytes == 0 {
		s.maxBytes = DefaultMaxBytes
	}
	if s.maxEvents < 1 || s.maxEvents > 100_000 {
		errs = append(errs, fmt.Errorf("%s.maxEvents: %d is not between 1 and 100000", path, c.MaxEvents))
	}
	if s.maxAge < time.Second {
		errs = append(errs, fmt.Errorf("%s.maxAge: %s is under a second", path, c.MaxAge))
	}
	if s.maxBytes < 1<<10 || s.maxBytes > 1<<30 {
		errs = append(errs, fmt.Errorf("%s.maxBytes: %d is not between 1 KiB and 1 GiB", path, c.MaxBytes))
	}
	prefix := c.Prefix
	if prefix == "" {
		prefix = DefaultPrefix
	}
	if c.Key != "" && !strings.Contains(c.Key, "{hash}") {
		errs = append(errs, fmt.Errorf("%s.key: must contain {hash} (the batch's content hash): a retried batch must keep its key and two batches must not share one", path))
	}
	errs = append(errs, sinks.ParseFields(path, sinks.Field("prefix", strings.Trim(prefix, "/"), "", &s.prefix), sinks.Field("key", c.Key, "", &s.key)))
	if c.Key == "" {
		s.key = nil
	}
	switch c.SSE.Type {
	case "":
		if c.SSE.KMSKeyID != "" {
			errs = append(errs, fmt.Errorf("%s.sse.kmsKeyID: only with sse.type aws:kms", path))
		}
	case "AES256", "aws:kms":
		s.headers = append(s.headers, [2]string{"X-Amz-Server-Side-Encryption", c.SSE.Type})
		if c.SSE.KMSKeyID != "" {
			if c.SSE.Type != "aws:kms" {
				errs = append(errs, fmt.Errorf("%s.sse.kmsKeyID: only with sse.type aws:kms", path))
			}
			s.headers = append(s.headers, [2]string{"X-Amz-Server-Side-Encryption-Aws-Kms-Key-Id", c.SSE.KMSKeyID})
		}
	default:
		errs = append(errs, fmt.Errorf("%s.sse.type: %q: use AES256 or aws:kms", path, c.SSE.Type))
	}
	if c.StorageClass != "" {
		s.headers = append(s.headers, [2]string{"X-Amz-Storage-Class", c.StorageClass})
	}
	p, err := sinks.NewPayload(path, c.Layout, c.DeDot, deps.MaxPayloadBytes)
	errs = append(errs, err)
	s.payload = p
	cfg, err := c.Load(deps.Ctx, path)
	errs = append(errs, err)
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	s.put = newPutter(deps.Ctx, cfg, c.Config)
	return s, nil
}

// bucketName is S3's rule for bucket names, which go into URLs.
func bucketName(b string) bool {
	if len(b) < 3 || len(b) > 63 || strings.Contains(b, "..") {
		return false
	}
	for i, r := range b {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
		case (r == '.' || r == '-') && i > 0 && i < len(b)-1:
		default:
			return false
		}
	}
	return true
}

type sink struct {
	bucket    string
	pathStyle bool
	prefix    *sinks.Template
	key       *sinks.Template // nil: the default layout
	headers   [][2]string     // storage class, SSE
	payload   sinks.Payload
	maxEvents int
	maxAge    time.Duration
	maxBytes  int
	put       *putter
	// rendered is the lingering batch's lines, rendered by Full to know
	// its size and used by SendBatch (the worker calls both, in turn).
	rendered rendered
}

type rendered struct {
	first *event.EnhancedEvent // identifies the batch
	lines [][]byte             // nil where rendering failed
	size  int
}

// Full renders the batch's new events and reports whether it reached
// maxBytes: the batch is then sent without waiting for maxAge.
func (s *sink) Full(batch []*event.EnhancedEvent) bool {
	r := &s.rendered
	if len(batch) == 0 || batch[0] != r.first || len(batch) < len(r.lines) {
		*r = rendered{}
		if len(batch) > 0 {
			r.first = batch[0]
		}
	}
	for _, ev := range batch[len(r.lines):] {
		line, err := s.payload.Render(ev)
		if err != nil {
			line = nil
		}
		r.lines = append(r.lines, line)
		r.size += len(line) + 1
	}
	return r.size >= s.maxBytes
}

// line is evs[i]'s rendered line: from Full when it rendered this batch.
func (s *sink) line(evs []*event.EnhancedEvent, i int) ([]byte, error) {
	if r := s.rendered; len(evs) == len(r.lines) && evs[0] == r.first && r.lines[i] != nil {
		return r.lines[i], nil
	}
	return s.payload.Render(evs[i])
}

func (s *sink) MaxBatch() int         { return s.maxEvents }
func (s *sink) Linger() time.Duration { return s.maxAge }

func (s *sink) Send(ctx context.Context, ev *event.EnhancedEvent) error {
	return s.SendBatch(ctx, []*event.EnhancedEvent{ev})[0]
}

// object is one upload: events' lines and which events they are.
type object struct {
	lines []byte
	index []int // into the batch
	first *event.EnhancedEvent
	last  *event.EnhancedEvent
}

// SendBatch uploads evs as objects of at most maxBytes; an event is
// delivered when its object is. An event that does not render fails
// alone (a template error).
func (s *sink) SendBatch(ctx context.Context, evs []*event.EnhancedEvent) []error {
	errs := make([]error, len(evs))
	var objects []*object
	cur := &object{}
	for i, ev := range evs {
		line, err := s.line(evs, i)
		if err != nil {
			errs[i] = err
			continue
		}
		if len(cur.index) > 0 && len(cur.lines)+len(line)+1 > s.maxBytes {
			objects = append(objects, cur)
			cur = &object{}
		}
		if cur.first == nil {
			cur.first = ev
		}
		cur.last = ev
		cur.lines = append(append(cur.lines, line...), '\n')
		cur.index = append(cur.index, i)
	}
	if len(cur.index) > 0 {
		objects = append(objects, cur)
	}
	s.rendered = rendered{}
	for _, o := range objects {
		err := s.upload(ctx, o)
		for _, i := range o.index {
			errs[i] = err
		}
	}
	return errs
}

func (s *sink) upload(ctx context.Context, o *object) error {
	key, err := s.objectKey(o)
	if err != nil {
		return err
	}
	var gz bytes.Buffer
	w, _ := gzip.NewWriterLevel(&gz, gzip.DefaultCompression)
	w.Write(o.lines)
	if err := w.Close(); err != nil {
		return sinks.Permanent(sinks.ClassOther, err)
	}
	return s.put.putObject(ctx, s.bucket, key, s.pathStyle, gz.Bytes(), s.headers)
}

// objectKey is <prefix>/year=…/month=…/day=…/hour=…/<first-rv>-<last-rv>-<hash>.jsonl.gz,
// the partition from the first event's last occurrence (UTC), or the key
// template's.
func (s *sink) objectKey(o *object) (string, error) {
	sum := sha256.Sum256(o.lines)
	hash := hex.EncodeToString(sum[:8])
	first, last := rv(o.first), rv(o.last)
	var key string
	if s.key != nil {
		k, err := s.key.Render(o.first)
		if err != nil {
			return "", fmt.Errorf("key.%w", err)
		}
		key = strings.NewReplacer("{firstRV}", first, "{lastRV}", last, "{hash}", hash).Replace(k)
	} else {
		prefix, err := s.prefix.Render(o.first)
		if err != nil {
			return "", fmt.Errorf("prefix.%w", err)
		}
		t := o.first.GetLastTime().UTC()
		key = fmt.Sprintf("%s/year=%04d/month=%02d/day=%02d/hour=%02d/%s-%s-%s.jsonl.gz",
			strings.Trim(prefix, "/"), t.Year(), t.Month(), t.Day(), t.Hour(), first, last, hash)
	}
	key = strings.TrimLeft(key, "/")
	if key == "" || len(key) > maxKeyBytes || strings.Contains(key, "//") {
		return "", sinks.Permanent(sinks.ClassRejected, fmt.Errorf("object key %q: empty, over %d bytes, or with an empty path part", sinks.Truncate(key, 80), maxKeyBytes))
	}
	return key, nil
}

// rv is ev's resourceVersion, or 0 (a hand-written event has none).
func rv(ev *event.EnhancedEvent) string {
	if ev.ResourceVersion == "" {
		return "0"
	}
	return ev.ResourceVersion
}

// Preview shows the key and the line an event would add.
func (s *sink) Preview(ev *event.EnhancedEvent) (any, error) {
	line, err := s.payload.Render(ev)
	if err != nil {
		return nil, err
	}
	key, err := s.objectKey(&object{lines: append(line, '\n'), first: ev, last: ev})
	if err != nil {
		return nil, err
	}
	return map[string]any{"bucket": s.bucket, "key": key, "line": sinks.PreviewBody(line)}, nil
}

func (s *sink) Close() error {
	s.put.client.CloseIdleConnections()
	return nil
}

var (
	_ sinks.Filler    = (*sink)(nil)
	_ sinks.Previewer = (*sink)(nil)
)
