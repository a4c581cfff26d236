package config

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/eventide/eventide/pkg/sinks"
)

// Every receiver that sends to a URL checks it the same way at load
// (sinks.CheckEndpoint), with its own scheme policy, and warns the same
// way about TLS verification turned off (sinks.Endpoint.Warn, WarnTLS).
func TestEveryReceiverChecksItsEndpoint(t *testing.T) {
	for _, c := range []struct {
		receiver string // {{.URL}} and {{.TLS}} filled in
		key      string // the path the error names
		plainOK  bool   // plain http to another machine is accepted
	}{
		{"webhook: {endpoint: '%s', tls: %s}", "webhook.endpoint", true},
		{"loki: {url: '%s', tls: %s}", "loki.url", true},
		{"teams: {endpoint: '%s', tls: %s}", "teams.endpoint", false},
		{"dingtalk: {webhook: '%s', tls: %s}", "dingtalk.webhook", false},
		{"wecom: {webhook: '%s', tls: %s}", "wecom.webhook", false},
		{"wechat: {corpID: c, corpSecret: s, agentID: 1, apiURL: '%s', tls: %s}", "wechat.apiURL", false},
		{"feishu: {webhook: '%s', tls: %s}", "feishu.webhook", false},
		{"influxdb: {url: '%s', tls: %s}", "influxdb.url", true},
		{"elasticsearch: {hosts: ['%s'], index: i, tls: %s}", "elasticsearch.hosts[0]", true},
		{"opensearch: {hosts: ['%s'], index: i, tls: %s}", "opensearch.hosts[0]", true},
		{"slack: {token: t, channel: '#c', apiURL: '%s'}%.0s", "slack.apiURL", false},
		{"bigquery: {project: p, dataset: d, table: t, endpoint: '%s'}%.0s", "bigquery.endpoint", false},
		{"kinesis: {streamName: s, region: eu-west-1, endpoint: '%s'}%.0s", "kinesis.endpoint", true},
	} {
		load := func(url, tls string) (string, error) {
			var logs strings.Builder
			opts := testLoadOptions(nil)
			opts.Deps = sinks.Deps{Ctx: context.Background(), Log: zerolog.New(&logs)}
			src := "route: {match: [{receiver: r}]}\nreceivers:\n  - name: r\n    " + fmt.Sprintf(c.receiver, url, tls) + "\n"
			l, err := Load([]byte(src), opts)
			if err == nil {
				l.Close()
			}
			return logs.String(), err
		}
		if _, err := load("ftp://x.example.com/p", "{}"); err == nil || !strings.Contains(err.Error(), "receivers[0]."+c.key+": not an http(s) URL") {
			t.Errorf("%s: a non-http URL: %v", c.key, err)
		}
		_, err := load("http://x.example.com/p", "{}")
		if c.plainOK && err != nil {
			t.Errorf("%s: plain http refused: %v", c.key, err)
		}
		if !c.plainOK && (err == nil || !strings.Contains(err.Error(), "receivers[0]."+c.key+": must be https://")) {
			t.Errorf("%s: plain http to another machine: %v", c.key, err)
		}
		if !strings.Contains(c.receiver, "tls:") {
			continue
		}
		logs, err := load("https://x.example.com/p", "{insecureSkipVerify: true}")
		if err != nil || !strings.Contains(logs, "tls.insecureSkipVerify") || !strings.Contains(logs, `"receiver_path":"receivers[0].`) {
			t.Errorf("%s: insecureSkipVerify not warned about (%v): %s", c.key, err, logs)
		}
	}
}

// Every receiver that sends a batch per request takes batchSize and
// flushInterval (sinks.Batching), whatever its own defaults.
func TestEveryBatchingReceiverTakesBatchKeys(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "k")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "s")
	for _, receiver := range []string{
		"kafka: {topic: t, brokers: ['kafka:9092']",
		"pubsub: {gcloud_project_id: p, topic: t",
		"syslog: {address: 'syslog:514'",
		"loki: {url: 'http://loki:3100/loki/api/v1/push'",
		"elasticsearch: {hosts: ['http://es:9200'], index: i",
		"opensearch: {hosts: ['http://os:9200'], index: i",
		"bigquery: {project: p, dataset: d, table: t",
		"kinesis: {streamName: s, region: eu-west-1",
		"firehose: {deliveryStreamName: d, region: eu-west-1",
		"sqs: {queueName: q, region: eu-west-1",
		"eventbridge: {eventBusName: b, region: eu-west-1",
		"influxdb: {url: 'http://influxdb:8086'",
		"sql: {driver: postgres, dsn: 'postgres://db/events'",
		"sls: {endpoint: cn-hangzhou.log.aliyuncs.com, project: p-1, logstore: events, accessKeyID: a, accessKeySecret: s",
	} {
		src := "route: {match: [{receiver: r}]}\nreceivers:\n  - name: r\n    " + receiver + ", batchSize: 7, flushInterval: 3ms}\n"
		l, err := Load([]byte(src), testLoadOptions(nil))
		if err != nil {
			t.Errorf("%s: %v", receiver, err)
			continue
		}
		s, ok := l.Receivers[0].Sink.(sinks.Lingerer)
		if !ok || s.MaxBatch() != 7 || s.Linger() != 3*time.Millisecond {
			t.Errorf("%s: batchSize and flushInterval not taken (%T)", receiver, l.Receivers[0].Sink)
		}
		l.Close()
	}
}

// A chat robot's receiver paces its sends at the service's rate unless
// delivery.rateLimit says otherwise, and one without group is warned
// about: a burst waits its turn at that rate.
func TestChatRobotsDefaultRateLimit(t *testing.T) {
	for _, c := range []struct {
		receiver, delivery string
		every              time.Duration
		warned             bool
	}{
		{"dingtalk: {webhook: 'https://oapi.dingtalk.com/robot/send?access_token=t'}", "", 3 * time.Second, true},
		{"wecom: {webhook: 'https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k'}", "", 3 * time.Second, true},
		{"wechat: {corpID: c, corpSecret: s, agentID: 1}", "", 2 * time.Second, true},
		{"feishu: {webhook: 'https://open.feishu.cn/open-apis/bot/v2/hook/x'}\n    group: {by: [reason]}", "", 200 * time.Millisecond, false},
		{"dingtalk: {webhook: 'https://oapi.dingtalk.com/robot/send?access_token=t'}", "\n    delivery: {rateLimit: 6/min}", 10 * time.Second, true},
		{"webhook: {endpoint: 'https://hooks.example.com/x'}", "", 0, false},
	} {
		var logs strings.Builder
		opts := testLoadOptions(nil)
		opts.Deps = sinks.Deps{Ctx: context.Background(), Log: zerolog.New(&logs)}
		src := "route: {match: [{receiver: r}]}\nreceivers:\n  - name: r\n    " + c.receiver + c.delivery + "\n"
		l, err := Load([]byte(src), opts)
		if err != nil {
			t.Errorf("%s: %v", c.receiver, err)
			continue
		}
		if got := l.Receivers[0].Delivery.RateLimit.Every; got != c.every {
			t.Errorf("%s%s: rate limit one send per %s, want %s", c.receiver, c.delivery, got, c.every)
		}
		if warned := strings.Contains(logs.String(), "add group:"); warned != c.warned {
			t.Errorf("%s: warned %v, want %v: %s", c.receiver, warned, c.warned, logs.String())
		}
		l.Close()
	}
}

// A prometheus receiver's metric cannot be one of eventide's own nor
// another receiver's: both would be on the same /metrics.
func TestEventMetricNamesCollide(t *testing.T) {
	src := `metricsNamePrefix: ev_
route: {match: [{receiver: a}, {receiver: b}, {receiver: c}, {receiver: d}]}
receivers:
  - {name: a, prometheus: {name: kube_events_total, labels: [reason]}}
  - {name: b, prometheus: {name: kube_events_total, labels: [namespace]}}
  - {name: c, prometheus: {name: ev_events_total, labels: [reason]}}
  - {name: d, prometheus: {name: go_events_total, labels: [reason]}}
`
	_, err := Load([]byte(src), testLoadOptions(nil))
	for _, want := range []string{`receivers[1].prometheus.name: "kube_events_total" is already the metric of receivers[0]`,
		`receivers[2].prometheus.name: "ev_events_total" is in eventide's own metrics (ev_…)`, `receivers[3].prometheus.name: "go_events_total" is in eventide's own metrics (go_…)`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %s: %v", want, err)
		}
	}
}

// heartbeat names receivers that exist, at an interval of at least a
// second (default a minute).
func TestHeartbeatChecks(t *testing.T) {
	load := func(hb string) (*Loaded, error) {
		return Load([]byte("heartbeat: "+hb+"\nroute: {match: [{receiver: r}]}\nreceivers: [{name: r, stdout: {}}]\n"), testLoadOptions(nil))
	}
	l, err := load("{receivers: [r]}")
	if err != nil || l.Config.Heartbeat.Interval != time.Minute {
		t.Fatalf("default interval: %v %+v", err, l)
	}
	l.Close()
	_, err = load("{interval: 10ms, receivers: [pager]}")
	for _, want := range []string{"heartbeat.interval: 10ms is under a second", `heartbeat.receivers[0]: undefined receiver "pager"`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %s: %v", want, err)
		}
	}
	if _, err := load("{interval: 1m}"); err == nil || !strings.Contains(err.Error(), "heartbeat.receivers: name at least one") {
		t.Errorf("no receivers: %v", err)
	}
}
