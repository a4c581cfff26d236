// Package kafka produces a record per event to a Kafka topic with franz-go:
// a pure-Go client, maintained, with the idempotent producer, every
// compression codec and SASL PLAIN/SCRAM built in, and an in-process fake
// broker (kfake) speaking the real protocol for tests.
//
// Records are keyed by the involved object's UID by default, so one
// object's events stay in order in one partition. acks=all and the
// idempotent producer are the default. A batch returns once Kafka
// acknowledged each record, one error per record, so the checkpoint only
// moves over what the brokers have.
package kafka

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
	"gopkg.in/yaml.v3"

	"github.com/eventide/eventide/pkg/kube/event"
	"github.com/eventide/eventide/pkg/sinks"
)

// batchDefaults: a produce of up to 500 records, after waiting up to
// 20 ms for them.
var batchDefaults = sinks.BatchDefaults{Size: 500, Flush: 20 * time.Millisecond, Max: 10000}

// Config keeps kubernetes-event-exporter's keys (topic, brokers, layout,
// clientId, compressionCodec, version, tls, sasl, avro) and adds key and
// acks.
type Config struct {
	Topic   string    `yaml:"topic"`
	Brokers []string  `yaml:"brokers"`
	Key     string    `yaml:"key" tmpl:"true"` // default: the involved object's UID
	Layout  yaml.Node `yaml:"layout"`
	DeDot   bool      `yaml:"deDot"`
	// ClientID names eventide to the brokers; default "eventide".
	ClientID string `yaml:"clientId"`
	// CompressionCodec: none (default), snappy, gzip, lz4 or zstd.
	CompressionCodec string `yaml:"compressionCodec"`
	// Version was the protocol version the old client pinned; franz-go
	// negotiates versions with each broker, so it is accepted and unused.
	Version string `yaml:"version"`
	// Acks: all (default; with the idempotent producer) or leader.
	Acks string `yaml:"acks"`
	// TLS: the old tool's block, enable plus the usual files.
	TLS  sinks.TLSConfig `yaml:"tls"`
	SASL SASL            `yaml:"sasl"`
	Avro *Avro           `yaml:"avro"`
	// batchSize (default 500) and flushInterval (default 20ms).
	sinks.Batching `yaml:",inline"`
}

// SASL authenticates with PLAIN or SCRAM.
type SASL struct {
	Enable    bool         `yaml:"enable"`
	Username  string       `yaml:"username"`
	Password  sinks.Secret `yaml:"password"`
	Mechanism string       `yaml:"mechanism"` // plain (default), sha256, sha512
}

func (c *Config) Build(path string, deps sinks.Deps) (sinks.Sink, error) {
	var errs []error
	if c.Topic == "" {
		errs = append(errs, fmt.Errorf("%s.topic: required", path))
	}
	if len(c.Brokers) == 0 {
		errs = append(errs, fmt.Errorf("%s.brokers: required (host:port, one or more)", path))
	}
	keyText := c.Key
	if keyText == "" {
		keyText = "{{ .InvolvedObject.UID }}"
	}
	key, err := sinks.ParseTemplate(keyText)
	if err != nil {
		errs = append(errs, fmt.Errorf("%s.key: %w", path, err))
	}
	p, err := sinks.NewPayload(path, c.Layout, c.DeDot, deps.MaxPayloadBytes)
	errs = append(errs, err)
	var enc *avroEncoder
	if c.Avro != nil {
		enc, err = c.Avro.encoder(path + ".avro")
		errs = append(errs, err)
	}
	opts, err := c.clientOptions(path, deps.Log)
	errs = append(errs, err)
	batching, err := c.Batching.CheckWith(path, batchDefaults)
	errs = append(errs, err)
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	s := &kafkaSink{topic: c.Topic, key: key, payload: p, avro: enc, receiver: deps.Receiver, Batching: batching}
	// NewClient starts no connection: the first produce dials.
	client, err := kgo.NewClient(append(opts, kgo.WithHooks(&s.lastConnect))...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	s.client = client
	return s, nil
}

func (c *Config) clientOptions(path string, log zerolog.Logger) ([]kgo.Opt, error) {
	clientID := c.ClientID
	if clientID == "" {
		clientID = "eventide"
	}
	opts := []kgo.Opt{
		kgo.SeedBrokers(c.Brokers...),
		kgo.ClientID(clientID),
		kgo.DefaultProduceTopic(c.Topic),
		kgo.ProducerLinger(0), // the runtime batches (Linger)
		// A record the brokers never take fails after this, rather than
		// staying in the client's buffer for ever.
		kgo.RecordDeliveryTimeout(2 * time.Minute),
		kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)),
	}
	var errs []error
	switch strings.ToLower(c.CompressionCodec) {
	case "", "none":
		opts = append(opts, kgo.ProducerBatchCompression(kgo.NoCompression()))
	case "snappy":
		opts = append(opts, kgo.ProducerBatchCompression(kgo.SnappyCompression()))
	case "gzip":
		opts = append(opts, kgo.ProducerBatchCompression(kgo.GzipCompression()))
	case "lz4":
		opts = append(opts, kgo.ProducerBatchCompression(kgo.Lz4Compression()))
	case "zstd":
		opts = append(opts, kgo.ProducerBatchCompression(kgo.ZstdCompression()))
	default:
		errs = append(errs, fmt.Errorf("%s.compressionCodec: %q is not one of none, snappy, gzip, lz4, zstd", path, c.CompressionCodec))
	}
	switch c.Acks {
	case "", "all":
		opts = append(opts, kgo.RequiredAcks(kgo.AllISRAcks()))
	case "leader":
		opts = append(opts, kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite())
	default:
		errs = append(errs, fmt.Errorf("%s.acks: %q is not all or leader (no acknowledgement would lose events)", path, c.Acks))
	}
	if c.TLS.Enable {
		tc, err := c.TLS.Build(path + ".tls")
		errs = append(errs, err)
		sinks.WarnTLS(log, path, strings.Join(c.Brokers, ","), c.TLS)
		opts = append(opts, kgo.DialTLSConfig(tc))
	} else if c.TLS.CAFile != "" || c.TLS.CertFile != "" {
		errs = append(errs, fmt.Errorf("%s.tls: files are set but enable is false", path))
	}
	if c.SASL.Enable {
		m, err := c.SASL.mechanism(path + ".sasl")
		errs = append(errs, err)
		opts = append(opts, kgo.SASL(m))
		if !c.TLS.Enable {
			log.Warn().Str("receiver_path", path).Msg("kafka SASL without TLS: the password crosses the network in the clear with PLAIN")
		}
	}
	return opts, errors.Join(errs...)
}

func (s SASL) mechanism(path string) (sasl.Mechanism, error) {
	if s.Username == "" {
		return nil, fmt.Errorf("%s.username: required when sasl.enable is true", path)
	}
	switch strings.ToLower(s.Mechanism) {
	case "", "plain":
		return plain.Auth{User: s.Username, Pass: s.Password.Value()}.AsMechanism(), nil
	case "sha256", "scram-sha-256":
		return scram.Auth{User: s.Username, Pass: s.Password.Value()}.AsSha256Mechanism(), nil
	case "sha512", "scram-sha-512":
		return scram.Auth{User: s.Username, Pass: s.Password.Value()}.AsSha512Mechanism(), nil
	}
	return nil, fmt.Errorf("%s.mechanism: %q is not plain, sha256 or sha512", path, s.Mechanism)
}

type kafkaSink struct {
	receiver    string // its name, for the idempotency-key header
	topic       string
	key         *sinks.Template
	payload     sinks.Payload
	avro        *avroEncoder
	client      *kgo.Client
	lastConnect connectErrors
	sinks.Batching
}

// connectErrors keeps the last failure to connect to a broker (dial, TLS,
// SASL): franz-go retries those without failing the records, so a send
// that times out names it instead of only saying it timed out.
type connectErrors struct{ last atomic.Pointer[error] }

func (c *connectErrors) OnBrokerConnect(_ kgo.BrokerMetadata, _ time.Duration, _ net.Conn, err error) {
	if err != nil {
		c.last.Store(&err)
	} else {
		c.last.Store(nil)
	}
}

func (c *connectErrors) err() error {
	if p := c.last.Load(); p != nil {
		return *p
	}
	return nil
}

func (s *kafkaSink) Send(ctx context.Context, ev *event.EnhancedEvent) error {
	return s.SendBatch(ctx, []*event.EnhancedEvent{ev})[0]
}

// SendBatch produces every event's record and waits until Kafka
// acknowledged each, or ctx ends: one error per event. A record still
// unacknowledged then is a timeout (retried; it may arrive twice).
func (s *kafkaSink) SendBatch(ctx context.Context, evs []*event.EnhancedEvent) []error {
	type result struct {
		i   int
		err error
	}
	errs := make([]error, len(evs))
	results := make(chan result, len(evs)) // promises never block
	pending := map[int]bool{}
	for i, ev := range evs {
		rec, err := s.record(ev)
		if err != nil {
			errs[i] = err
			continue
		}
		pending[i] = true
		s.client.Produce(ctx, rec, func(_ *kgo.Record, err error) { results <- result{i, err} })
	}
	for len(pending) > 0 {
		select {
		case r := <-results:
			errs[r.i] = classify(r.err)
			delete(pending, r.i)
		case <-ctx.Done():
			err := fmt.Errorf("not acknowledged by Kafka in time: %w", ctx.Err())
			if cerr := s.lastConnect.err(); cerr != nil {
				err = fmt.Errorf("not acknowledged by Kafka in time; connecting to a broker fails: %w", cerr)
			}
			for i := range pending {
				errs[i] = sinks.Retryable(sinks.ClassTimeout, err, 0)
			}
			return errs
		}
	}
	return errs
}

// record is ev's record: its key and value (Avro in the Confluent wire
// format when configured, else the JSON payload).
func (s *kafkaSink) record(ev *event.EnhancedEvent) (*kgo.Record, error) {
	value, err := s.payload.Render(ev)
	if err != nil {
		return nil, err
	}
	if s.avro != nil {
		if value, err = s.avro.encode(value); err != nil {
			return nil, sinks.Permanent(sinks.ClassTemplate, fmt.Errorf("avro: %w", err))
		}
	}
	key, err := s.key.Render(ev)
	if err != nil {
		return nil, fmt.Errorf("key: %w", err)
	}
	return &kgo.Record{Topic: s.topic, Key: []byte(key), Value: value,
		Headers: []kgo.RecordHeader{{Key: "idempotency-key", Value: []byte(sinks.IdempotencyKey(s.receiver, ev))}}}, nil
}

func (s *kafkaSink) Preview(ev *event.EnhancedEvent) (any, error) {
	rec, err := s.record(ev)
	if err != nil {
		return nil, err
	}
	value := sinks.PreviewBody(rec.Value)
	if s.avro != nil {
		value = fmt.Sprintf("avro, schema ID %d, %d bytes", s.avro.id, len(rec.Value))
	}
	return map[string]any{"topic": rec.Topic, "key": string(rec.Key), "value": value}, nil
}

func (s *kafkaSink) Close() error {
	s.client.Close()
	return nil
}

// classify tells the retry loop what a produce error means: Kafka's
// retriable errors, timeouts and network failures are retried; a record
// too large or refused for good (authorization, an invalid record) is not.
func classify(err error) error {
	if err == nil {
		return nil
	}
	if cut, ok := sinks.CutShort(err); ok {
		return cut
	}
	switch {
	case errors.Is(err, kgo.ErrRecordTimeout):
		return sinks.Retryable(sinks.ClassTimeout, err, 0)
	case errors.Is(err, kerr.MessageTooLarge), errors.Is(err, kerr.RecordListTooLarge):
		return sinks.Permanent(sinks.ClassTooLarge, err)
	case errors.Is(err, kerr.TopicAuthorizationFailed), errors.Is(err, kerr.SaslAuthenticationFailed),
		errors.Is(err, kerr.ClusterAuthorizationFailed), errors.Is(err, kerr.InvalidRecord):
		return sinks.Permanent(sinks.ClassRejected, err)
	}
	var ke *kerr.Error
	if errors.As(err, &ke) && !ke.Retriable {
		return sinks.Permanent(sinks.ClassRejected, err)
	}
	return sinks.Retryable(sinks.ClassNetwork, err, 0)
}

// Send and Preview build the record with the same code.
var _ sinks.Previewer = (*kafkaSink)(nil)
var _ sinks.Lingerer = (*kafkaSink)(nil)
