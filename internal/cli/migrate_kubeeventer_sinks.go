package cli

import (
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// kubeEventerSinks translate each kube-eventer sink type: its options as
// the sink read them (kube-eventer's sinks/<type>), its filters, its
// payload.
var kubeEventerSinks = map[string]func(m *keMigration, u *url.URL) error{
	"log":           keLog,
	"dingtalk":      keDingTalk,
	"wechat":        keWeChat,
	"webhook":       keWebhook,
	"influxdb":      keInfluxDB,
	"mysql":         keMySQL,
	"elasticsearch": keElasticsearch,
	"kafka":         keKafka,
	"honeycomb":     keHoneycomb,
	"sls":           keSLS,
}

func keLog(m *keMigration, u *url.URL) error {
	name := m.name("log")
	m.rules = append(m.rules, keFilter{}.rule(name))
	m.receivers = append(m.receivers, "  - name: "+name+"\n    stdout: {}   # kube-eventer logged every event; this writes each as a JSON line\n")
	return nil
}

// keChatText is kube-eventer's text message of DingTalk and WeChat: its
// label values first (the last given on top), then the fields. DingTalk
// printed the time as 2006-01-02 15:04:05, WeChat with Go's String.
func keChatText(labels []string, timeFormat string) string {
	t := ""
	for _, l := range labels {
		t = strings.ReplaceAll(l, "{{", "{{`{{`}}") + "\n" + t
	}
	return t + "Level:{{ .Type }} \nKind:{{ .InvolvedObject.Kind }} \nNamespace:{{ .Namespace }} \nName:{{ .Name }} \nReason:{{ .Reason }} \nTimestamp:" +
		timeFormat + " \nMessage:{{ .Message }}"
}

// keChatFilter is DingTalk's and WeChat's filter: level (default
// Warning; an unknown level let everything through), the event's own
// namespace, the object's kind.
func keChatFilter(opts url.Values, kind string) keFilter {
	f := keFilter{nsField: "namespace", namespaces: keValues(opts, "namespaces"), kinds: keValues(opts, "kinds"), types: []string{"Warning"}}
	f.comment = fmt.Sprintf("    # --sink=%s: level=Warning unless given (kube-eventer's default there)\n", kind)
	if l := opts.Get("level"); l != "" {
		f.comment = fmt.Sprintf("    # --sink=%s: level=%s\n", kind, l)
		switch l {
		case "Warning", "Normal":
			f.types = keLevel(l)
		default:
			f.types = nil // kube-eventer scored an unknown level 0: every event passed
		}
	}
	return f
}

func keDingTalk(m *keMigration, u *url.URL) error {
	opts := u.Query()
	if opts.Get("access_token") == "" {
		return fmt.Errorf("no access_token (kube-eventer refused this too)")
	}
	m.unknownOptions("dingtalk", opts, "access_token", "level", "sign", "label", "msg_type", "cluster_id", "region", "namespaces", "kinds")
	name := m.name("dingtalk")
	m.rules = append(m.rules, keChatFilter(opts, "dingtalk").rule(name))
	var b strings.Builder
	fmt.Fprintf(&b, "  - name: %s\n    dingtalk:\n      webhook: %s\n", name,
		yamlQuote("https://"+u.Host+u.Path+"?access_token="+m.secret(name, "access_token")))
	if opts.Get("sign") != "" {
		fmt.Fprintf(&b, "      secret: %s\n", yamlQuote(m.secret(name, "sign")))
	}
	if opts.Get("msg_type") == "markdown" {
		m.note("--sink=dingtalk msg_type=markdown: eventide's markdown message has a title and a text template; kube-eventer's layout is approximated (set text: to change it)")
		title := "Kubernetes(ID:" + opts.Get("cluster_id") + ") Event"
		fmt.Fprintf(&b, "      msgType: markdown\n      title: %s\n      text: %s\n", yamlQuote(title),
			yamlQuote(strings.ReplaceAll(keChatText(opts["label"], `{{ .GetLastTime.Format "2006-01-02 15:04:05" }}`), " \n", "  \n")))
	} else {
		b.WriteString("      # kube-eventer's text layout; without content: eventide's default says the same in one line\n")
		fmt.Fprintf(&b, "      content: %s\n", yamlQuote(keChatText(opts["label"], `{{ .GetLastTime.Format "2006-01-02 15:04:05" }}`)))
	}
	b.WriteString("    # group: {by: [namespace, reason, workload]} sends one message per crash loop instead of one per event\n")
	m.receivers = append(m.receivers, b.String())
	return nil
}

func keWeChat(m *keMigration, u *url.URL) error {
	opts := u.Query()
	for _, k := range []string{"corp_id", "corp_secret", "agent_id"} {
		if opts.Get(k) == "" {
			return fmt.Errorf("no %s (kube-eventer refused this too)", k)
		}
	}
	agent, err := strconv.Atoi(opts.Get("agent_id"))
	if err != nil {
		return fmt.Errorf("agent_id %q is not a number", opts.Get("agent_id"))
	}
	m.unknownOptions("wechat", opts, "corp_id", "corp_secret", "agent_id", "to_user", "level", "label", "namespaces", "kinds")
	name := m.name("wechat")
	m.rules = append(m.rules, keChatFilter(opts, "wechat").rule(name))
	var b strings.Builder
	fmt.Fprintf(&b, "  - name: %s\n    wecom:   # kube-eventer's wechat sink: WeCom's application API\n      corpID: %s\n      corpSecret: %s\n      agentID: %d\n",
		name, yamlQuote(opts.Get("corp_id")), yamlQuote(m.secret(name, "corp_secret")), agent)
	if users := keValues(opts, "to_user"); len(users) > 0 {
		q := make([]string, len(users))
		for i, u := range users {
			q[i] = yamlQuote(u)
		}
		fmt.Fprintf(&b, "      toUser: [%s]\n", strings.Join(q, ", "))
	}
	b.WriteString("      # kube-eventer's text layout; without content: eventide's default says the same in one line\n")
	fmt.Fprintf(&b, "      content: %s\n", yamlQuote(keChatText(opts["label"], "{{ .GetLastTime }}")))
	m.receivers = append(m.receivers, b.String())
	return nil
}

// keWebhookBody is kube-eventer's default webhook body, as a layout: the
// same keys, and valid JSON whatever the message holds (kube-eventer's
// text template broke on a quote or a newline).
const keWebhookBody = `      layout:
        EventType: "{{ .Type }}"
        EventKind: "{{ .InvolvedObject.Kind }}"
        EventReason: "{{ .Reason }}"
        EventTime: "{{ .LastTimestamp }}"
        EventMessage: "{{ .Message }}"
`

// keWebhookOptions are the webhook sink's own options; kube-eventer left
// them in the URL it called, eventide takes them out.
var keWebhookOptions = []string{"level", "namespaces", "kinds", "reason", "method", "header", "custom_body_configmap", "custom_body_configmap_namespace"}

// secretParam tells a query parameter that carries a credential.
func secretParam(k string) bool {
	k = strings.ToLower(k)
	for _, w := range []string{"token", "key", "secret", "sign", "password", "pw", "auth"} {
		if strings.Contains(k, w) {
			return true
		}
	}
	return false
}

func keWebhook(m *keMigration, u *url.URL) error {
	if u.Host == "" {
		return fmt.Errorf("no host in the URL (kube-eventer refused this too)")
	}
	name := m.name("webhook")
	opts := u.Query()
	ep := m.webhookEndpoint(name, u)
	f := keFilter{nsField: "objectNamespace", namespaces: keValues(opts, "namespaces"), kinds: keValues(opts, "kinds")}
	f.comment = "    # --sink=webhook: no type filter unless level is given (kube-eventer's default there)\n"
	if l := opts.Get("level"); l != "" {
		f.types = keLevel(l)
		f.comment = "    # --sink=webhook: level=" + l + "\n"
	}
	if rs := opts["reason"]; len(rs) > 0 {
		for _, r := range rs {
			f.reasons = append(f.reasons, strings.Split(r, ",")...)
		}
		if len(rs) > 1 {
			m.note("--sink=webhook: %d reason options: kube-eventer read only the first; eventide matches any of them", len(rs))
		}
	}
	m.rules = append(m.rules, f.rule(name))
	var b strings.Builder
	fmt.Fprintf(&b, "  - name: %s\n    webhook:\n      endpoint: %s\n", name, yamlQuote(ep))
	switch method := strings.ToUpper(opts.Get("method")); method {
	case "", "GET":
		m.note("--sink=webhook: kube-eventer's method %s sent the body with a GET; eventide POSTs it (set method: PUT or PATCH if the server wants those)", orDefault(opts.Get("method"), "(default GET)"))
	case "POST":
	case "PUT", "PATCH":
		fmt.Fprintf(&b, "      method: %s\n", method)
	default:
		m.note("--sink=webhook: method %s is not one eventide sends (POST, PUT, PATCH): POST", method)
	}
	if hs := opts["header"]; len(hs) > 0 {
		b.WriteString("      headers:\n")
		for _, h := range hs {
			k, v, ok := strings.Cut(h, "=")
			if !ok || strings.Contains(v, "=") {
				m.note("--sink=webhook: header %q is not K=V (kube-eventer skipped it too)", h)
				continue
			}
			if secretParam(k) {
				v = m.secret(name, "header_"+k)
			}
			fmt.Fprintf(&b, "        %s: %s\n", yamlQuote(k), yamlQuote(strings.ReplaceAll(v, "{{", "{{`{{`}}")))
		}
	}
	if cm := opts.Get("custom_body_configmap"); cm != "" {
		if m.customBody == "" {
			m.note("--sink=webhook: custom_body_configmap=%s: its template is not here; run again with -custom-body-file FILE holding its content key (kubectl get configmap %s -o jsonpath='{.data.content}'); kube-eventer's default body is used meanwhile", cm, cm)
			b.WriteString(keWebhookBody)
		} else {
			m.note("--sink=webhook: custom_body_configmap=%s: its template is the layout as !json; a value with a quote or a newline makes invalid JSON, which eventide refuses (dead-lettered) instead of sending: use toJson", cm)
			fmt.Fprintf(&b, "      layout: !json %s\n", yamlQuote(m.customBody))
		}
	} else {
		b.WriteString(keWebhookBody)
	}
	m.receivers = append(m.receivers, b.String())
	return nil
}

func keInfluxDB(m *keMigration, u *url.URL) error {
	opts := u.Query()
	m.unknownOptions("influxdb", opts, "user", "pw", "db", "retention", "withfields", "insecuressl", "cluster_name", "disable_counter_metrics", "concurrency")
	name := m.name("influxdb")
	m.rules = append(m.rules, keFilter{}.rule(name))
	var b strings.Builder
	fmt.Fprintf(&b, "  - name: %s\n    influxdb:\n      url: %s\n      database: %s\n", name, yamlQuote(u.Scheme+"://"+u.Host), yamlQuote(orDefault(opts.Get("db"), "k8s")))
	if r := opts.Get("retention"); r != "" {
		fmt.Fprintf(&b, "      retentionPolicy: %s\n", yamlQuote(r))
	}
	// kube-eventer's client logged in as root:root unless told otherwise.
	fmt.Fprintf(&b, "      username: %s\n      password: %s\n", yamlQuote(orDefault(opts.Get("user"), "root")), yamlQuote(m.secret(name, "password")))
	if opts.Get("pw") == "" {
		m.note("--sink=influxdb: no pw given: kube-eventer used root; set %s_PASSWORD to root if that was right", strings.ToUpper(strings.ReplaceAll(name, "-", "_")))
	}
	if opts.Get("insecuressl") == "true" {
		b.WriteString("      tls: {insecureSkipVerify: true}\n")
	}
	cluster := yamlQuote(orDefault(opts.Get("cluster_name"), "default"))
	pod := `{{ if eq .InvolvedObject.Kind "Pod" }}`
	b.WriteString("      # kube-eventer's measurement and tags, so its dashboards keep working. eventide adds the integer field\n" +
		"      # count and moves each point's time by under a millisecond so points never overwrite each other.\n" +
		"      # Its uid tag makes a series per event: remove measurement, tags and fields for eventide's bounded default.\n")
	if opts.Get("withfields") == "true" {
		fmt.Fprintf(&b, `      measurement: events
      tags:
        uid: "{{ .UID }}"
        pod_id: %s
        object_name: "{{ .InvolvedObject.Name }}"
        type: "{{ .Type }}"
        kind: "{{ .InvolvedObject.Kind }}"
        component: "{{ .Source.Component }}"
        reason: "{{ .Reason }}"
        namespace_name: "{{ .Namespace }}"
        hostname: "{{ .Source.Host }}"
        cluster_name: %s
      fields:
        message: "{{ .Message }}"
`, yamlQuote(pod+"{{ .InvolvedObject.UID }}{{ end }}"), cluster)
	} else {
		fmt.Fprintf(&b, `      measurement: log/events
      tags:
        uid: "{{ .UID }}"
        pod_id: %s
        pod_name: %s
        hostname: "{{ .Source.Host }}"
        cluster_name: %s
      fields:
        value: "{{ toPrettyJson . }}"
`, yamlQuote(pod+"{{ .InvolvedObject.UID }}{{ end }}"), yamlQuote(pod+"{{ .InvolvedObject.Name }}{{ end }}"), cluster)
	}
	m.receivers = append(m.receivers, b.String())
	return nil
}

func keMySQL(m *keMigration, u *url.URL) error {
	table := u.Query().Get("table")
	dsn := u.RawQuery
	if table != "" {
		dsn, _, _ = strings.Cut(u.RawQuery, "&")
	}
	if dsn == "" {
		return fmt.Errorf("no DSN after mysql:? (kube-eventer refused this too)")
	}
	name := m.name("mysql")
	// user:password@tcp(host)/db?params: the password becomes a variable.
	if at := strings.LastIndex(dsn, "@"); at > 0 {
		if user, _, has := strings.Cut(dsn[:at], ":"); has {
			dsn = user + ":" + m.secret(name, "password") + dsn[at:]
		}
	}
	m.rules = append(m.rules, keFilter{}.rule(name))
	m.receivers = append(m.receivers, fmt.Sprintf(`  - name: %s
    # kube-eventer's table and columns, one row per occurrence. kube-eventer's table has no count column:
    # run ALTER TABLE %s ADD COLUMN count INT NULL, ADD UNIQUE (event_id, count); first, so a re-send adds nothing.
    # eventide's default (mode: upsert, table kube_events) keeps one row per Event, updated as its count grows.
    sql:
      driver: mysql
      dsn: %s
      table: %s
      mode: append
`, name, orDefault(table, "kube_event"), yamlQuote(dsn), yamlQuote(orDefault(table, "kube_event"))))
	return nil
}

// keESDocument is kube-eventer's Elasticsearch document (EsSinkPoint).
const keESDocument = `      layout:
        Count: !int "{{ .Count }}"
        Metadata: !json "{{ toJson .ObjectMeta }}"
        InvolvedObject: !json "{{ toJson .Event.InvolvedObject }}"
        Source: !json "{{ toJson .Source }}"
        FirstOccurrenceTimestamp: "{{ .FirstTimestamp.UTC.Format \"2006-01-02T15:04:05Z07:00\" }}"
        LastOccurrenceTimestamp: "{{ .GetLastTime.UTC.Format \"2006-01-02T15:04:05.999999999Z07:00\" }}"
        Message: "{{ .Message }}"
        Reason: "{{ .Reason }}"
        Type: "{{ .Type }}"
        EventTags: !json '{"eventID":{{ toJson (toString .UID) }},"cluster_name":%s{{ if eq .InvolvedObject.Kind "Pod" }},"pod_id":{{ toJson (toString .InvolvedObject.UID) }},"pod_name":{{ toJson .InvolvedObject.Name }}{{ end }},"hostname":{{ toJson .Source.Host }}}'
`

func keElasticsearch(m *keMigration, u *url.URL) error {
	opts := u.Query()
	m.unknownOptions("elasticsearch", opts, "ver", "cluster_name", "index", "use_namespace", "nodes", "esUserName", "esUserSecret",
		"maxRetries", "healthCheck", "startupHealthcheckTimeout", "sniff", "bulkWorkers", "pipeline")
	hosts := opts["nodes"]
	if len(hosts) == 0 {
		if u.Host == "" {
			return fmt.Errorf("no nodes and no host (kube-eventer refused this too)")
		}
		hosts = []string{u.Scheme + "://" + u.Host}
	}
	name := m.name("elasticsearch")
	m.rules = append(m.rules, keFilter{}.rule(name))
	for _, k := range []string{"sniff", "ver", "bulkWorkers", "maxRetries", "healthCheck", "startupHealthcheckTimeout"} {
		if opts.Get(k) != "" {
			m.note("--sink=elasticsearch: %s is not needed: eventide's client talks to the hosts given, sends one _bulk per batch (batchSize, flushInterval) and retries by delivery", k)
		}
	}
	if opts.Get("use_namespace") != "" {
		m.note("--sink=elasticsearch: use_namespace put each namespace in its own index; eventide's index comes from the event's time only: one index per day for all namespaces")
	}
	if opts.Get("pipeline") != "" {
		m.note("--sink=elasticsearch: pipeline %s is not carried over: set it as the index's default_pipeline", opts.Get("pipeline"))
	}
	q := make([]string, len(hosts))
	for i, h := range hosts {
		q[i] = yamlQuote(h)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "  - name: %s\n    elasticsearch:\n      hosts: [%s]\n", name, strings.Join(q, ", "))
	fmt.Fprintf(&b, "      indexFormat: %s   # kube-eventer's daily index\n", yamlQuote(orDefault(opts.Get("index"), "heapster")+"-{2006.01.02}"))
	if user := opts.Get("esUserName"); user != "" {
		fmt.Fprintf(&b, "      username: %s\n      password: %s\n", yamlQuote(user), yamlQuote(m.secret(name, "password")))
	}
	b.WriteString("      # kube-eventer's document; without layout eventide indexes the whole event, _id its UID and count\n")
	fmt.Fprintf(&b, keESDocument, strings.ReplaceAll(strconv.Quote(orDefault(opts.Get("cluster_name"), "default")), "'", "''"))
	m.receivers = append(m.receivers, b.String())
	return nil
}

// keKafkaEnvelope is the message kube-eventer produced (KafkaSinkPoint):
// the event as indented JSON in a string, its time and tags.
const keKafkaEnvelope = `      layout:
        EventValue: "{{ toPrettyJson . }}"
        EventTimestamp: "{{ .GetLastTime.UTC.Format \"2006-01-02T15:04:05.999999999Z07:00\" }}"
        EventTags: !json '{"eventID":{{ toJson (toString .UID) }}{{ if eq .InvolvedObject.Kind "Pod" }},"pod_id":{{ toJson (toString .InvolvedObject.UID) }},"pod_name":{{ toJson .InvolvedObject.Name }}{{ end }},"hostname":{{ toJson .Source.Host }}}'
`

func keKafka(m *keMigration, u *url.URL) error {
	opts := u.Query()
	m.unknownOptions("kafka", opts, "brokers", "eventstopic", "timeseriestopic", "compression", "user", "password", "pw", "cacert", "cert", "key", "insecuressl")
	if len(opts["brokers"]) == 0 {
		return fmt.Errorf("no brokers (kube-eventer refused this too)")
	}
	name := m.name("kafka")
	m.rules = append(m.rules, keFilter{}.rule(name))
	q := make([]string, len(opts["brokers"]))
	for i, h := range opts["brokers"] {
		q[i] = yamlQuote(h)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "  - name: %s\n    kafka:\n      brokers: [%s]\n      topic: %s\n", name, strings.Join(q, ", "), yamlQuote(orDefault(opts.Get("eventstopic"), "heapster-events")))
	if c := opts.Get("compression"); c != "" && c != "none" {
		fmt.Fprintf(&b, "      compressionCodec: %s\n", yamlQuote(c))
	}
	if opts.Get("timeseriestopic") != "" {
		m.note("--sink=kafka: timeseriestopic is for metrics, which eventide does not send")
	}
	if user := opts.Get("user"); user != "" {
		fmt.Fprintf(&b, "      sasl: {enable: true, mechanism: plain, username: %s, password: %s}\n", yamlQuote(user), yamlQuote(m.secret(name, "password")))
	}
	if opts.Get("cacert") != "" || opts.Get("cert") != "" || opts.Get("insecuressl") == "true" {
		b.WriteString("      tls:\n        enable: true\n")
		for _, k := range [][2]string{{"cacert", "caFile"}, {"cert", "certFile"}, {"key", "keyFile"}} {
			if v := opts.Get(k[0]); v != "" {
				fmt.Fprintf(&b, "        %s: %s\n", k[1], yamlQuote(v))
			}
		}
		if opts.Get("insecuressl") == "true" {
			b.WriteString("        insecureSkipVerify: true\n")
		}
	}
	b.WriteString("      # kube-eventer's envelope; without layout eventide sends the whole event as the message\n")
	b.WriteString(keKafkaEnvelope)
	m.receivers = append(m.receivers, b.String())
	return nil
}

func keHoneycomb(m *keMigration, u *url.URL) error {
	opts := u.Query()
	m.unknownOptions("honeycomb", opts, "dataset", "writekey", "apihost")
	if opts.Get("dataset") == "" || opts.Get("writekey") == "" {
		return fmt.Errorf("dataset and writekey are required (kube-eventer refused this too)")
	}
	name := m.name("honeycomb")
	m.rules = append(m.rules, keFilter{}.rule(name))
	var b strings.Builder
	fmt.Fprintf(&b, "  - name: %s\n    webhook:   # one flat Honeycomb event per Kubernetes event (kube-eventer sent its own columns)\n      preset: honeycomb\n      dataset: %s\n      apiKey: %s\n",
		name, yamlQuote(opts.Get("dataset")), yamlQuote(m.secret(name, "writekey")))
	if h := opts.Get("apihost"); h != "" {
		fmt.Fprintf(&b, "      endpoint: %s\n", yamlQuote(strings.TrimRight(h, "/")+"/1/events/"+url.PathEscape(opts.Get("dataset"))))
	}
	m.receivers = append(m.receivers, b.String())
	return nil
}

func keSLS(m *keMigration, u *url.URL) error {
	opts := u.Query()
	m.unknownOptions("sls", opts, "project", "logStore", "topic", "regionId", "accessKeyId", "accessKeySecret", "internal", "label")
	if opts.Get("project") == "" || opts.Get("logStore") == "" {
		return fmt.Errorf("project and logStore are required (kube-eventer refused this too)")
	}
	name := m.name("sls")
	m.rules = append(m.rules, keFilter{}.rule(name))
	region := opts.Get("regionId")
	if region == "" {
		region = "REGION"
		m.note("--sink=sls: no regionId: kube-eventer read it from the environment or the instance's metadata; put the region into %s's endpoint", name)
	}
	endpoint := region + ".log.aliyuncs.com"
	if opts.Get("internal") != "false" { // kube-eventer's default: the VPC endpoint
		endpoint = region + "-intranet.log.aliyuncs.com"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "  - name: %s\n    sls:\n      endpoint: %s\n      project: %s\n      logstore: %s\n", name, yamlQuote(endpoint), yamlQuote(opts.Get("project")), yamlQuote(opts.Get("logStore")))
	if t := opts.Get("topic"); t != "" {
		fmt.Fprintf(&b, "      topic: %s\n", yamlQuote(t))
	}
	if id := opts.Get("accessKeyId"); id != "" {
		fmt.Fprintf(&b, "      accessKeyID: %s\n      accessKeySecret: %s\n", yamlQuote(id), yamlQuote(m.secret(name, "access_key_secret")))
	} else {
		b.WriteString("      credentialsFile: /var/addon/token-config   # ACK's STS token, as kube-eventer read it; or accessKeyID and accessKeySecret\n")
	}
	b.WriteString("      # kube-eventer's log contents; without contents eventide writes one flat field per event property\n")
	b.WriteString("      contents:\n        eventId: \"{{ toPrettyJson . }}\"\n        hostname: \"{{ .Source.Host }}\"\n        level: \"{{ .Type }}\"\n")
	b.WriteString("        pod_id: \"{{ if eq .InvolvedObject.Kind \\\"Pod\\\" }}{{ .InvolvedObject.UID }}{{ end }}\"\n")
	b.WriteString("        pod_name: \"{{ if eq .InvolvedObject.Kind \\\"Pod\\\" }}{{ .InvolvedObject.Name }}{{ end }}\"\n")
	for _, l := range opts["label"] {
		k, v, ok := strings.Cut(l, ",")
		if !ok || strings.Contains(v, ",") {
			m.note("--sink=sls: label %q is not key,value (kube-eventer skipped it too)", l)
			continue
		}
		fmt.Fprintf(&b, "        %s: %s\n", yamlQuote(k), yamlQuote(strings.ReplaceAll(v, "{{", "{{`{{`}}")))
	}
	m.receivers = append(m.receivers, b.String())
	return nil
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// chatHooks are chat services whose webhook URLs kube-eventer users
// called, and the eventide receiver that speaks to each.
var chatHooks = map[string]string{
	"oapi.dingtalk.com":   "dingtalk",
	"qyapi.weixin.qq.com": "wecom",
	"open.feishu.cn":      "feishu",
	"open.larksuite.com":  "feishu",
	"hooks.slack.com":     "slack (with a bot token) or this webhook",
	"hook.bearychat.com":  "webhook (this one)",
	"outlook.office.com":  "teams",
}

// webhookEndpoint is u without kube-eventer's own options (it left them
// in the URL it called), its credentials as ${VAR}: a chat service's
// whole URL (path and all, the path may be the key), else each query
// parameter named like a credential and the password.
func (m *keMigration) webhookEndpoint(name string, u *url.URL) string {
	if native, ok := chatHooks[u.Hostname()]; ok {
		v := m.secret(name, "url")
		m.note("--sink=webhook to %s: its URL is a credential, read from %s; eventide's %s receiver posts there natively (signing, mentions, its answers checked)",
			u.Hostname(), strings.Trim(v, "${}"), native)
		return v
	}
	endpoint := *u
	q := url.Values{}
	var secretKeys []string
	for k, v := range u.Query() {
		switch {
		case slices.Contains(keWebhookOptions, k):
		case secretParam(k):
			secretKeys = append(secretKeys, k)
		default:
			q[k] = v
		}
	}
	raw := q.Encode()
	slices.Sort(secretKeys)
	for _, k := range secretKeys {
		if raw != "" {
			raw += "&"
		}
		raw += url.QueryEscape(k) + "=" + m.secret(name, k)
	}
	endpoint.RawQuery = raw
	password := ""
	if _, has := endpoint.User.Password(); has {
		password = m.secret(name, "password")
		endpoint.User = url.User(endpoint.User.Username())
	}
	ep := endpoint.String()
	if password != "" { // after String: it would escape the ${VAR}
		ep = strings.Replace(ep, "@", ":"+password+"@", 1)
	}
	return ep
}
