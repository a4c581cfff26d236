package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/eventide/eventide/internal/testenv"
	"github.com/eventide/eventide/internal/testenv/kubeenv"
	"gopkg.in/yaml.v3"
)

// exampleConfigFor loads config.example.yaml and points it at the local
// servers: everything else (routes, templates, layouts) is the file itself.
func exampleConfigFor(t *testing.T, ns, slackURL, opsgenieHost, kinesisURL string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "config.example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	root := doc.Content[0]
	setKey(root, "namespace", ns)
	setKey(mapValue(root, "spool"), "dir", filepath.Join(t.TempDir(), "spool"))
	setKey(mapValue(root, "deadLetter"), "path", filepath.Join(t.TempDir(), "dead.jsonl"))
	setKey(mapValue(root, "checkpoint"), "name", checkpointName(t))
	receivers := mapValue(root, "receivers")
	for _, r := range receivers.Content {
		switch mapValue(r, "name").Value {
		case "slack-owners":
			setKey(mapValue(r, "slack"), "apiURL", slackURL)
		case "opsgenie-pager":
			setKey(mapValue(r, "opsgenie"), "URL", opsgenieHost)
		case "kinesis-metrics":
			setKey(mapValue(r, "kinesis"), "endpoint", kinesisURL)
			setKey(mapValue(r, "kinesis"), "region", "us-east-1")
		}
	}
	out, err := yaml.Marshal(&doc)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

func mapValue(m *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	panic("no key " + key)
}

func setKey(m *yaml.Node, key, value string) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			m.Content[i+1] = &yaml.Node{Kind: yaml.ScalarNode, Value: value}
			return
		}
	}
	m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: key}, &yaml.Node{Kind: yaml.ScalarNode, Value: value})
}

// TestBriefUsesFromExampleConfig runs the three uses the product exists for,
// from config.example.yaml, on the local control plane: per-owner Slack
// channels, one Opsgenie alert per BackOff however often it repeats, and a
// Kinesis metric record per event occurrence.
func TestBriefUsesFromExampleConfig(t *testing.T) {
	ctx := context.Background()
	ns := "e2e-brief"
	if err := cluster.CreateNamespace(ctx, ns); err != nil {
		t.Fatal(err)
	}
	checkout, err := cluster.CreateWorkload(ctx, ns, "checkout", 1, map[string]string{"owner": "payments"})
	if err != nil {
		t.Fatal(err)
	}
	web, err := cluster.CreateWorkload(ctx, ns, "web", 1, map[string]string{"owner": "storefront"})
	if err != nil {
		t.Fatal(err)
	}
	slack := testenv.NewSlackServer()
	defer slack.Stop()
	og := testenv.NewOpsgenieServer()
	defer og.Close()
	kin, err := testenv.StartKinesis(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer kin.Stop()
	if err := testenv.CreateKinesisStream(ctx, kin.URL, "k8s-events"); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SLACK_TOKEN", "xoxb-e2e")
	t.Setenv("OPSGENIE_API_KEY", "og-e2e")
	testenv.SetAWSTestEnv(t)
	ex := startEventide(t, exampleConfigFor(t, ns, slack.GetAPIURL(), og.Host(), kin.URL))

	backoff := createEvent(t, kubeenv.PodEvent(checkout.Pods[0], "checkout-backoff", "Warning", "BackOff", "Back-off restarting failed container"))
	createEvent(t, kubeenv.PodEvent(web.Pods[0], "web-unhealthy", "Warning", "Unhealthy", "Readiness probe failed"))
	createEvent(t, kubeenv.PodEvent(web.Pods[0], "web-pulled", "Normal", "Pulled", "Container image already present"))
	for i := 0; i < 2; i++ {
		if _, err := cluster.Repeat(ctx, backoff); err != nil {
			t.Fatal(err)
		}
	}
	// 5 occurrences in all: BackOff ×3, Unhealthy, Pulled.
	recs, err := testenv.ReadKinesis(ctx, kin.URL, "k8s-events", 5)
	if err != nil {
		t.Fatal(err)
	}
	ex.waitMetric(t, `eventide_receiver_sent_total{receiver="opsgenie-pager"} 3`)
	ex.waitMetric(t, `eventide_receiver_sent_total{receiver="slack-owners"} 4`)

	// Slack: warnings go to the owning team's channel.
	channels := map[string]int{}
	for _, p := range slack.Posts() {
		channels[p.Get("channel")]++
	}
	if channels["#payments-alerts"] != 3 || channels["#storefront-alerts"] != 1 || len(channels) != 2 {
		t.Errorf("slack channels %v: want #payments-alerts×3 (BackOff and repeats), #storefront-alerts×1", channels)
	}

	// Opsgenie: the BackOff and its repeats carry one alias: one alert.
	alerts, auth := og.Alerts()
	aliases := map[any]int{}
	for _, a := range alerts {
		aliases[a["alias"]]++
	}
	if len(alerts) != 3 || len(aliases) != 1 || auth[0] != "GenieKey og-e2e" {
		t.Errorf("opsgenie got %d requests with aliases %v; want 3 updates of one alert", len(alerts), aliases)
	}

	// Kinesis: one metric record per occurrence, in the example's layout.
	if len(recs) != 5 {
		t.Fatalf("%d kinesis records, want 5", len(recs))
	}
	reasons := map[string]int{}
	for _, r := range recs {
		var m struct {
			Metric     string            `json:"metric"`
			Value      int               `json:"value"`
			Timestamp  int64             `json:"timestamp"`
			Dimensions map[string]string `json:"dimensions"`
			Labels     map[string]string `json:"labels"`
		}
		if err := json.Unmarshal(r.Data, &m); err != nil {
			t.Fatalf("record %s: %v", r.Data, err)
		}
		if m.Metric != "kube_event" || m.Timestamp == 0 || m.Dimensions["namespace"] != ns || m.Labels["owner"] != m.Dimensions["owner"] {
			t.Errorf("record %s", r.Data)
		}
		reasons[fmt.Sprintf("%s/%s/%d", m.Dimensions["reason"], m.Dimensions["workload"], m.Value)]++
	}
	for _, want := range []string{"BackOff/checkout/1", "BackOff/checkout/2", "BackOff/checkout/3", "Unhealthy/web/1", "Pulled/web/1"} {
		if reasons[want] != 1 {
			t.Errorf("kinesis records %v lack %s", reasons, want)
		}
	}
}
