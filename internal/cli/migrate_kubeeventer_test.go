package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/eventide/eventide/internal/testenv"
)

// kubeEventerCases are --sink lines from kube-eventer's docs (docs/en,
// deploy) and its users' issues, every sink type; each translates into a
// route file that passes validate, compared with a golden file (stdout,
// then the notes). `go test -run KubeEventer -update` rewrites them.
var kubeEventerCases = []struct {
	name string
	args []string
	// mounted: the files it names (certificates) are mounted in the
	// cluster, not here: validate fails on exactly those.
	mounted int
}{
	{name: "log", args: []string{"--sink=log"}},
	{name: "dingtalk-markdown", args: []string{"--sink=dingtalk:https://oapi.dingtalk.com/robot/send?access_token=a5c19f3e02feba7bd5dfc22bfb04afa212359acfe86fd80eb159187097b7d014&label=c550367cdf1e84dfabab013b277cc6bc2&level=Normal&msg_type=markdown&cluster_id=c550367cdf1e84dfabab013b277cc6bc2&region=cn-shenzhen"}},
	{name: "dingtalk-sign", args: []string{"--sink=dingtalk:https://oapi.dingtalk.com/robot/send?access_token=a5c19f3e02feba7bd5dfc22bfb04afa212359acfe86fd80eb159187097b7d014&label=c550367cdf1e84dfabab013b277cc6bc2&level=Normal&sign=SEC4801ebab0yeuq924909668e5979f7d184b3f4bfac6a63ae36a"}},
	{name: "dingtalk-filters", args: []string{"--sink=dingtalk:https://oapi.dingtalk.com/robot/send?access_token=t0k&namespaces=default,kube-system&kinds=Pod,Node&label=prod&label=eu-west"}},
	{name: "elasticsearch-nodes", args: []string{"--sink=elasticsearch:?nodes=http://foo.com:9200&nodes=http://bar.com:9200"}},
	{name: "elasticsearch-sniff", args: []string{"--sink=elasticsearch:http://elasticsearch.example.com:9200?sniff=false&ver=6"}},
	{name: "elasticsearch-auth", args: []string{"--sink=elasticsearch:https://es.logging:9200?index=kube-events&esUserName=elastic&esUserSecret=changeme&cluster_name=prod&use_namespace=true&bulkWorkers=4"}},
	{name: "influxdb", args: []string{"--sink=influxdb:http://monitoring-influxdb:80/"}},
	{name: "influxdb-withfields", args: []string{"--sink=influxdb:https://influxdb.monitoring:8086?user=eventer&pw=s3cret&db=events&retention=week&withfields=true&cluster_name=prod&insecuressl=true"}},
	{name: "kafka", args: []string{"--sink=kafka:?brokers=localhost:9092&brokers=localhost:9093&eventstopic=testtopic"}},
	{name: "kafka-timeseries", args: []string{"--sink=kafka:?brokers=localhost:9092&brokers=localhost:9093&timeseriestopic=testseries"}},
	{name: "kafka-sasl-tls", args: []string{"--sink=kafka:?brokers=kafka-0.kafka:9093&compression=lz4&user=eventer&password=s3cret&cacert=/etc/kafka/ca.pem&cert=/etc/kafka/tls.crt&key=/etc/kafka/tls.key"}, mounted: 2},
	{name: "mongo", args: []string{"--sink=mongo:?mongodb://root:123456@mongo-replset-0-0.dba-c1.example.com:30694/?authSource=admin", "--sink=log"}},
	{name: "mysql", args: []string{"--sink=mysql:?root:transwarp@tcp(172.16.180.132:3306)/kube_eventer?charset=utf8&table=kube_event"}},
	{name: "mysql-default-table", args: []string{"--sink=mysql:?eventer:pw@tcp(mysql.db:3306)/kube_eventer?charset=utf8mb4"}},
	{name: "riemann", args: []string{"--sink=riemann:http://localhost:5555?ttl=120&state=ok&tags=foobar&batchsize=150", "--sink=log"}},
	{name: "sls-internal", args: []string{"--sink=sls:https://cn-hangzhou-internal.log.aliyuncs.com?project=my-sls-project&logStore=my-sls-logstore&topic=k8s-cluster-dev&regionId=cn-hangzhou&internal=true&label=Key1,Value1&label=Key2,Value2"}},
	{name: "sls-keys", args: []string{"--sink=sls:https://cn-hangzhou.log.aliyuncs.com?project=my-sls-project&logStore=my-sls-logstore&topic=k8s-cluster-dev&regionId=cn-hangzhou&internal=false&accessKeyId=LTAI5t&accessKeySecret=xyz"}},
	{name: "webhook-wecom-robot", args: []string{"--sink=webhook:http://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=633a31f6-7f9c-4bc4-97a0-0ec1eefa5898&level=Normal&kinds=Pod&header=Content-Type=application/json&custom_body_configmap=custom-body&custom_body_configmap_namespace=kube-system&method=POST"}},
	{name: "webhook-slack", args: []string{"--sink=webhook:https://hooks.slack.com/services/d/B00000000/XXX?&level=Normal&kinds=Pod&header=Content-Type=application/json&custom_body_configmap=custom-body&custom_body_configmap_namespace=kube-system&method=POST"}},
	{name: "webhook-dingtalk-filters", args: []string{"--sink=webhook:https://oapi.dingtalk.com/robot/send?access_token=a5c19f3e02feba7bd5dfc22bfb04afa212359acfe86fd80eb159187097b7d014&level=Normal&namespaces=a,b&kinds=c,d&header=contentType=customContentType&header=customHeaderKey=customHeaderValue"}},
	{name: "webhook-feishu", args: []string{"--sink=webhook:https://open.feishu.cn/open-apis/bot/v2/hook/xxxxxxxxxxxxxxxxxxxxxxxxxx?level=Warning&method=POST&header=Content-Type=application/json&custom_body_configmap=custom-body&custom_body_configmap_namespace=kube-system"}},
	{name: "webhook-own-service", args: []string{"--sink=webhook:https://ops:pa55@alerts.example.com/k8s?team=platform&api_key=abc&reason=BackOff|Failed.*&reason=OOM.*&header=Authorization=Bearer xyz&method=PUT"}},
	{name: "wechat-all", args: []string{"--sink=wechat:?corp_id=a5c19f3e02feba7bd5dfc22bfb&corp_secret=a212359acfe86fd80eb1591870&agent_id=1000012&to_user=&level=Normal"}},
	{name: "wechat-users", args: []string{"--sink=wechat:?corp_id=a5c19f3e02feba7bd5dfc22bfb&corp_secret=a212359acfe86fd80eb1591870&agent_id=1000012&to_user=zhangshan,xiaowang&level=Normal&label=prod"}},
	{name: "honeycomb", args: []string{"--sink=honeycomb:?dataset=mydataset&writekey=secretwritekey"}},
	{name: "honeycomb-apihost", args: []string{"--sink=honeycomb:?dataset=k8s&writekey=k&apihost=https://api.eu1.honeycomb.io"}},
	{name: "eventbridge", args: []string{"--sink=eventbridge:?accessKeyId=a&accessKeySecret=b&region=cn-hangzhou", "--sink=log"}},
	{name: "deployment", args: []string{"--source=kubernetes:https://kubernetes.default", "--frequency=10s", "--v=2", "--logtostderr",
		"--sink=dingtalk:https://oapi.dingtalk.com/robot/send?access_token=t0k&level=Warning&label=prod",
		"--sink=influxdb:http://monitoring-influxdb.kube-system:8086?db=k8s&withfields=true&cluster_name=prod",
		"--sink=webhook:http://alert-gateway.ops:8080/events?level=Warning&namespaces=shop&reason=BackOff"}},
}

func TestMigrateKubeEventer(t *testing.T) {
	for _, c := range kubeEventerCases {
		t.Run(c.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			if code := Run(t.Context(), append([]string{"migrate", "kube-eventer"}, c.args...), &out, &errOut, "test"); code != ExitOK {
				t.Fatalf("exit %d: %s", code, errOut.String())
			}
			testenv.CheckGolden(t, filepath.Join("migrate-kube-eventer", c.name+".golden"), []byte(out.String()+"---- notes\n"+errOut.String()))
			// The secrets to set are listed in the header.
			for _, line := range strings.Split(out.String(), "\n") {
				if v, ok := strings.CutPrefix(line, "#   "); ok {
					value := "x"
					if strings.HasSuffix(v, "_URL") {
						value = "https://hooks.example.com/x"
					}
					t.Setenv(v, value)
				}
			}
			for _, secret := range []string{"a5c19f3e02feba7bd5dfc22bfb04afa212359acfe86fd80eb159187097b7d014", "SEC4801ebab0", "changeme", "s3cret",
				"transwarp", "633a31f6", "secretwritekey", "a212359acfe86fd80eb1591870", "pa55", "xyz", "/B00000000/XXX"} {
				if strings.Contains(out.String(), secret) {
					t.Errorf("the route file carries the secret %s", secret)
				}
			}
			conf := filepath.Join(t.TempDir(), "config.yaml")
			if err := os.WriteFile(conf, out.Bytes(), 0o600); err != nil {
				t.Fatal(err)
			}
			var vout, verr bytes.Buffer
			code := Run(t.Context(), []string{"validate", "-conf", conf}, &vout, &verr, "test")
			if c.mounted > 0 && strings.Count(verr.String(), "no such file or directory") == c.mounted && strings.Contains(verr.String(), fmt.Sprintf("(%d errors)", c.mounted)) {
				return
			}
			if code != ExitOK {
				t.Errorf("validate: exit %d: %s%s\n%s", code, vout.String(), verr.String(), out.String())
			}
		})
	}
}

// What kube-eventer refused, or eventide cannot read, is an error that
// says which flag; nothing is printed.
func TestMigrateKubeEventerErrors(t *testing.T) {
	var out, errOut bytes.Buffer
	code := Run(t.Context(), []string{"migrate", "kube-eventer", "--sink=dingtalk:https://oapi.dingtalk.com/robot/send?level=Warning",
		"--sink=wechat:?corp_id=a&corp_secret=b&agent_id=x", "--sink=statsd:udp://x", "--sink=kafka:?eventstopic=t"}, &out, &errOut, "test")
	for _, want := range []string{"--sink=dingtalk: no access_token", `--sink=wechat: agent_id "x" is not a number`, "--sink=statsd: not a kube-eventer sink", "--sink=kafka: no brokers"} {
		if !strings.Contains(errOut.String(), want) {
			t.Errorf("errors lack %q: %s", want, errOut.String())
		}
	}
	if code != ExitFailed || out.Len() != 0 {
		t.Errorf("exit %d, printed %q", code, out.String())
	}
}

// The migrated receivers render what kube-eventer sent: DingTalk's text
// with the label on top, Kafka's envelope, InfluxDB's measurement and
// tags, the kube_event row, the webhook's body (valid JSON even with a
// quote and a newline in the message).
func TestMigrateKubeEventerPayloads(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := Run(t.Context(), []string{"migrate", "kube-eventer",
		"--sink=dingtalk:https://oapi.dingtalk.com/robot/send?access_token=t&label=prod",
		"--sink=kafka:?brokers=kafka:9092",
		"--sink=influxdb:http://influxdb:8086?withfields=true&cluster_name=prod",
		"--sink=mysql:?u:p@tcp(db:3306)/k?table=kube_event",
		"--sink=webhook:http://gateway.ops/events?level=Warning"}, &out, &errOut, "test"); code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	for _, v := range []string{"DINGTALK_1_ACCESS_TOKEN", "MYSQL_1_PASSWORD", "INFLUXDB_1_PASSWORD"} {
		t.Setenv(v, "x")
	}
	dir := t.TempDir()
	conf, events := filepath.Join(dir, "config.yaml"), filepath.Join(dir, "events.jsonl")
	ev := `{"metadata":{"name":"web-1.a","namespace":"shop","uid":"u-1"},"involvedObject":{"kind":"Pod","namespace":"shop","name":"web-1","uid":"p-1"},` +
		`"reason":"BackOff","message":"Back-off \"app\"\nrestarting","type":"Warning","count":3,"source":{"component":"kubelet","host":"node-3"},` +
		`"firstTimestamp":"2026-12-02T09:00:00Z","lastTimestamp":"2026-12-02T10:00:00Z"}`
	if os.WriteFile(conf, out.Bytes(), 0o600) != nil || os.WriteFile(events, []byte(ev), 0o600) != nil {
		t.Fatal("writing files")
	}
	var rt bytes.Buffer
	if code := Run(t.Context(), []string{"route-test", "-conf", conf, "-events", events, "-render"}, &rt, &errOut, "test"); code != ExitOK {
		t.Fatalf("route-test: exit %d: %s", code, errOut.String())
	}
	var result struct {
		Rendered map[string]json.RawMessage
	}
	if err := json.Unmarshal(rt.Bytes(), &result); err != nil {
		t.Fatal(err)
	}
	get := func(receiver string, v any) {
		t.Helper()
		if err := json.Unmarshal(result.Rendered[receiver], v); err != nil {
			t.Fatalf("%s: %v in %s", receiver, err, result.Rendered[receiver])
		}
	}
	var ding struct {
		Body struct{ Text struct{ Content string } }
	}
	get("dingtalk-1", &ding)
	if want := "prod\nLevel:Warning \nKind:Pod \nNamespace:shop \nName:web-1.a \nReason:BackOff \nTimestamp:2026-12-02 10:00:00 \nMessage:Back-off \"app\"\nrestarting"; ding.Body.Text.Content != want {
		t.Errorf("dingtalk text %q, want %q", ding.Body.Text.Content, want)
	}
	var kafka struct {
		Value struct {
			EventValue     string
			EventTimestamp string
			EventTags      map[string]string
		}
	}
	get("kafka-1", &kafka)
	var inner struct{ Reason, Message string }
	if err := json.Unmarshal([]byte(kafka.Value.EventValue), &inner); err != nil || inner.Reason != "BackOff" || inner.Message != "Back-off \"app\"\nrestarting" ||
		kafka.Value.EventTimestamp != "2026-12-02T10:00:00Z" || fmt.Sprint(kafka.Value.EventTags) != "map[eventID:u-1 hostname:node-3 pod_id:p-1 pod_name:web-1]" {
		t.Errorf("kafka envelope %+v (%v)", kafka.Value, err)
	}
	var influx struct{ Body string }
	get("influxdb-1", &influx)
	if !strings.HasPrefix(influx.Body, `events,cluster_name=prod,component=kubelet,hostname=node-3,kind=Pod,namespace_name=shop,object_name=web-1,pod_id=p-1,reason=BackOff,type=Warning,uid=u-1 count=1i,message="Back-off \"app\"\nrestarting" `) {
		t.Errorf("influx line %s", influx.Body)
	}
	var mysql struct{ Row map[string]any }
	get("mysql-1", &mysql)
	if fmt.Sprint(mysql.Row) != "map[count:3 event_id:u-1 first_occurrence_time:2026-12-02 09:00:00 +0000 UTC kind:Pod last_occurrence_time:2026-12-02 10:00:00 +0000 UTC message:Back-off \"app\"\nrestarting name:web-1 namespace:shop reason:BackOff type:Warning]" {
		t.Errorf("mysql row %v", mysql.Row)
	}
	var hook struct{ Body map[string]string }
	get("webhook-1", &hook)
	if fmt.Sprint(hook.Body) != "map[EventKind:Pod EventMessage:Back-off \"app\"\nrestarting EventReason:BackOff EventTime:2026-12-02 10:00:00 +0000 UTC EventType:Warning]" {
		t.Errorf("webhook body %v", hook.Body)
	}
}
