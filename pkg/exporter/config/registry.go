package config

import (
	"github.com/eventide/eventide/pkg/sinks"
	"github.com/eventide/eventide/pkg/sinks/aws/eventbridge"
	"github.com/eventide/eventide/pkg/sinks/aws/firehose"
	"github.com/eventide/eventide/pkg/sinks/aws/kinesis"
	"github.com/eventide/eventide/pkg/sinks/aws/opscenter"
	"github.com/eventide/eventide/pkg/sinks/aws/sns"
	"github.com/eventide/eventide/pkg/sinks/aws/sqs"
	"github.com/eventide/eventide/pkg/sinks/bigquery"
	"github.com/eventide/eventide/pkg/sinks/dingtalk"
	"github.com/eventide/eventide/pkg/sinks/elasticsearch"
	"github.com/eventide/eventide/pkg/sinks/feishu"
	"github.com/eventide/eventide/pkg/sinks/file"
	"github.com/eventide/eventide/pkg/sinks/influxdb"
	"github.com/eventide/eventide/pkg/sinks/kafka"
	"github.com/eventide/eventide/pkg/sinks/loki"
	"github.com/eventide/eventide/pkg/sinks/opensearch"
	"github.com/eventide/eventide/pkg/sinks/opsgenie"
	promsink "github.com/eventide/eventide/pkg/sinks/prometheus"
	"github.com/eventide/eventide/pkg/sinks/pubsub"
	"github.com/eventide/eventide/pkg/sinks/s3"
	"github.com/eventide/eventide/pkg/sinks/slack"
	"github.com/eventide/eventide/pkg/sinks/sls"
	sqlsink "github.com/eventide/eventide/pkg/sinks/sql"
	"github.com/eventide/eventide/pkg/sinks/syslog"
	"github.com/eventide/eventide/pkg/sinks/teams"
	"github.com/eventide/eventide/pkg/sinks/webhook"
	"github.com/eventide/eventide/pkg/sinks/wecom"
)

// receiverTypes is the one registry of receiver types: the key a route
// file uses under a receiver, and a new, empty settings value of that type.
// Adding a receiver is one package under pkg/sinks and one line here.
var receiverTypes = []struct {
	key string
	new func() sinks.Builder
}{
	{"stdout", func() sinks.Builder { return &file.StdoutConfig{} }},
	{"file", func() sinks.Builder { return &file.Config{} }},
	{"pipe", func() sinks.Builder { return &file.PipeConfig{} }},
	{"webhook", func() sinks.Builder { return &webhook.Config{} }},
	{"slack", func() sinks.Builder { return &slack.Config{} }},
	{"opsgenie", func() sinks.Builder { return &opsgenie.Config{} }},
	{"kinesis", func() sinks.Builder { return &kinesis.Config{} }},
	{"firehose", func() sinks.Builder { return &firehose.Config{} }},
	{"sns", func() sinks.Builder { return &sns.Config{} }},
	{"sqs", func() sinks.Builder { return &sqs.Config{} }},
	{"eventbridge", func() sinks.Builder { return &eventbridge.Config{} }},
	{"opscenter", func() sinks.Builder { return &opscenter.Config{} }},
	{"teams", func() sinks.Builder { return &teams.Config{} }},
	{"kafka", func() sinks.Builder { return &kafka.Config{} }},
	{"syslog", func() sinks.Builder { return &syslog.Config{} }},
	{"elasticsearch", func() sinks.Builder { return &elasticsearch.Config{} }},
	{"opensearch", func() sinks.Builder { return &opensearch.Config{} }},
	{"pubsub", func() sinks.Builder { return &pubsub.Config{} }},
	{"loki", func() sinks.Builder { return &loki.Config{} }},
	{"bigquery", func() sinks.Builder { return &bigquery.Config{} }},
	{"dingtalk", func() sinks.Builder { return &dingtalk.Config{} }},
	{"wecom", func() sinks.Builder { return &wecom.Config{} }},
	{"wechat", func() sinks.Builder { return &wecom.Config{} }}, // kube-eventer's name for it
	{"feishu", func() sinks.Builder { return &feishu.Config{} }},
	{"influxdb", func() sinks.Builder { return &influxdb.Config{} }},
	{"sql", func() sinks.Builder { return &sqlsink.Config{} }},
	{"sls", func() sinks.Builder { return &sls.Config{} }},
	{"prometheus", func() sinks.Builder { return &promsink.Config{} }},
	{"s3", func() sinks.Builder { return &s3.Config{} }},
}

// newReceiverSettings returns empty settings of receiver type key, or nil
// when eventide has no such type.
func newReceiverSettings(key string) sinks.Builder {
	for _, t := range receiverTypes {
		if t.key == key {
			return t.new()
		}
	}
	return nil
}

// ReceiverTypes lists the receiver type keys, in registry order.
func ReceiverTypes() []string {
	out := make([]string, len(receiverTypes))
	for i, t := range receiverTypes {
		out[i] = t.key
	}
	return out
}
