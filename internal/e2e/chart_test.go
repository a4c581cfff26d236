package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
	authv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/eventide/eventide/internal/cli"
	"github.com/eventide/eventide/internal/testenv"
	"github.com/eventide/eventide/internal/testenv/kubeenv"
)

var chartDir = filepath.Join(testenv.RepoRoot(), "charts", "eventide")

// helm runs the helm binary make tools built; the test is skipped, saying
// how to get it, when there is none.
func helm(t *testing.T, args ...string) string {
	t.Helper()
	bin, err := testenv.Tool("helm")
	if err != nil {
		t.Skip(err)
	}
	var out, errOut bytes.Buffer
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("helm %s: %v\n%s", strings.Join(args, " "), err, errOut.String())
	}
	return out.String()
}

// renderChart is `helm template` of the chart into namespace ns, decoded.
func renderChart(t *testing.T, ns string, args ...string) []*unstructured.Unstructured {
	t.Helper()
	out := helm(t, append([]string{"template", "ev", chartDir, "--namespace", ns}, args...)...)
	dec := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(out), 4096)
	var objs []*unstructured.Unstructured
	for {
		u := &unstructured.Unstructured{}
		if err := dec.Decode(u); err != nil {
			if errors.Is(err, io.EOF) {
				return objs
			}
			t.Fatalf("rendered chart does not decode: %v", err)
		}
		if len(u.Object) > 0 {
			objs = append(objs, u)
		}
	}
}

func findObject(t *testing.T, objs []*unstructured.Unstructured, kind, nameSuffix string) *unstructured.Unstructured {
	t.Helper()
	for _, o := range objs {
		if o.GetKind() == kind && strings.HasSuffix(o.GetName(), nameSuffix) {
			return o
		}
	}
	t.Fatalf("rendered chart has no %s *%s", kind, nameSuffix)
	return nil
}

// renderedConfig is the route file the chart's ConfigMap holds.
func renderedConfig(t *testing.T, objs []*unstructured.Unstructured) string {
	t.Helper()
	cm := findObject(t, objs, "ConfigMap", "eventide")
	s, _, _ := unstructured.NestedString(cm.Object, "data", "config.yaml")
	if s == "" {
		t.Fatal("the chart's ConfigMap has no config.yaml")
	}
	return s
}

// applyObjects applies objs server-side (dryRun: validated and admitted,
// not stored). Kinds whose CRD is not installed (Prometheus Operator's)
// are returned, not applied.
func applyObjects(t *testing.T, ns string, objs []*unstructured.Unstructured, dryRun bool) (skipped []string) {
	t.Helper()
	dc, err := discovery.NewDiscoveryClientForConfig(controlPlane.Admin)
	if err != nil {
		t.Fatal(err)
	}
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc))
	dyn, err := dynamic.NewForConfig(controlPlane.Admin)
	if err != nil {
		t.Fatal(err)
	}
	opts := metav1.ApplyOptions{FieldManager: "chart-test", Force: true}
	if dryRun {
		opts.DryRun = []string{metav1.DryRunAll}
	}
	for _, o := range objs {
		gvk := o.GroupVersionKind()
		m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if meta.IsNoMatchError(err) {
			skipped = append(skipped, gvk.Kind)
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		var ri dynamic.ResourceInterface = dyn.Resource(m.Resource)
		if m.Scope.Name() == meta.RESTScopeNameNamespace {
			ri = dyn.Resource(m.Resource).Namespace(o.GetNamespace())
		}
		if _, err := ri.Apply(context.Background(), o.GetName(), o, opts); err != nil {
			t.Errorf("apply %s %s/%s: %v", gvk.Kind, o.GetNamespace(), o.GetName(), err)
		}
	}
	return skipped
}

func TestChartLintsAndRenders(t *testing.T) {
	helm(t, "lint", "--strict", chartDir)
	helm(t, "lint", "--strict", chartDir, "-f", filepath.Join(chartDir, "ci", "all-on-values.yaml"))
	for name, args := range map[string][]string{
		"default": nil,
		"all-on":  {"-f", filepath.Join(chartDir, "ci", "all-on-values.yaml")},
	} {
		t.Run(name, func(t *testing.T) {
			objs := renderChart(t, "monitoring", args...)
			conf := filepath.Join(t.TempDir(), "config.yaml")
			if err := os.WriteFile(conf, []byte(renderedConfig(t, objs)), 0o600); err != nil {
				t.Fatal(err)
			}
			t.Setenv("SLACK_TOKEN", "xoxb-test")
			var out, errOut bytes.Buffer
			if code := cli.Run(context.Background(), []string{"validate", conf}, &out, &errOut, "test"); code != 0 {
				t.Errorf("the rendered route file does not validate: %s", errOut.String())
			}
			dep := findObject(t, objs, "Deployment", "eventide")
			pod, _, _ := unstructured.NestedMap(dep.Object, "spec", "template", "spec")
			c := pod["containers"].([]any)[0].(map[string]any)
			sc := c["securityContext"].(map[string]any)
			if sc["readOnlyRootFilesystem"] != true || sc["allowPrivilegeEscalation"] != false {
				t.Errorf("container securityContext %v: want a read-only root and no privilege escalation", sc)
			}
			if psc := pod["securityContext"].(map[string]any); psc["runAsNonRoot"] != true {
				t.Errorf("pod securityContext %v: want runAsNonRoot", psc)
			}
			if g := pod["terminationGracePeriodSeconds"].(int64); g < 15 {
				t.Errorf("terminationGracePeriodSeconds %d: less than the drain timeout plus the final checkpoint", g)
			}
			if name == "all-on" && !strings.Contains(toJSON(t, pod), `"mountPath":"/etc/eventide-secrets/slack","name":"secret-slack","readOnly":true`) {
				t.Errorf("secretMounts: no read-only mount of the Secret in the pod:\n%s", toJSON(t, pod))
			}
			checkStatusPage(t, objs, c, name == "all-on")
		})
	}
}

// checkStatusPage: by default the status page listens on loopback and
// neither the Service nor the NetworkPolicy mentions it; exposed, it
// listens on the pod's IP, the Service has its port, and the
// NetworkPolicy admits it only from the namespaces named.
func checkStatusPage(t *testing.T, objs []*unstructured.Unstructured, container map[string]any, exposed bool) {
	t.Helper()
	args, svc := toJSON(t, container["args"]), toJSON(t, findObject(t, objs, "Service", "eventide").Object)
	np := toJSON(t, findObject(t, objs, "NetworkPolicy", "eventide").Object)
	if !exposed {
		if !strings.Contains(args, `"-web-address=127.0.0.1:2113"`) || strings.Contains(svc, "2113") || strings.Contains(np, `"status"`) {
			t.Errorf("default status page: args %s, Service %s, NetworkPolicy %s", args, svc, np)
		}
		return
	}
	if !strings.Contains(args, `"-web-address=:2113"`) || !strings.Contains(svc, `"name":"status","port":2113`) ||
		!strings.Contains(np, `"from":[{"namespaceSelector":{"matchLabels":{"kubernetes.io/metadata.name":"platform"}}}],"ports":[{"port":"status","protocol":"TCP"}]`) {
		t.Errorf("exposed status page: args %s, Service %s, NetworkPolicy %s", args, svc, np)
	}
}

// What the chart refuses to render, and the message that says why.
func TestChartRefusesContradictions(t *testing.T) {
	bin, err := testenv.Tool("helm")
	if err != nil {
		t.Skip(err)
	}
	for _, c := range []struct {
		set, want string
	}{
		{"replicas=2,config.leaderElection.enabled=false", "several replicas without leader election"},
		{"rbac.clusterWide=false,rbac.namespaces[0]=a,config.namespace=b", "set rbac.namespaces to the namespaces to watch"},
		{"drainTimeoutSeconds=30,terminationGracePeriodSeconds=20", "must be at least drainTimeoutSeconds (30) plus 5"},
		{"replicas=2,persistence.enabled=true", "share one spool folder"},
		{"replicas=0", "replicas"},
	} {
		out, err := exec.Command(bin, "template", "ev", chartDir, "--set", c.set).CombinedOutput()
		if err == nil || !strings.Contains(string(out), c.want) {
			t.Errorf("--set %s: %v, want a failure saying %q:\n%s", c.set, err, c.want, out)
		}
	}
}

// chartTestValues route every event to stdout twice: as it is, and
// through a grouping receiver, so the group state is written too.
const chartTestValues = `config:
  route:
    routes:
      - match:
          - receiver: out
          - receiver: grouped
  receivers:
    - name: out
      stdout: {}
    - name: grouped
      stdout: {}
      group: {by: [reason], wait: 100ms, interval: 1s}
`

// The chart's objects are accepted by a real API server, and eventide run
// with the chart's ServiceAccount token (not the test user) watches,
// enriches, delivers, checkpoints and keeps group state: the chart's RBAC
// is enough. And it is no more: the token cannot change the route file's
// ConfigMap or any other it does not own. Run twice: cluster-wide with one
// replica, and namespaced with two (leader election), where the leader is
// killed and the standby takes over under the same Role.
func TestChartRBACIsEnough(t *testing.T) {
	values := filepath.Join(t.TempDir(), "values.yaml")
	if err := os.WriteFile(values, []byte(chartTestValues), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name     string
		args     []string
		failover bool
	}{
		{"cluster-wide", nil, false},
		{"namespaced-with-leader-election", []string{"--set", "rbac.clusterWide=false,replicas=2"}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			ns := "chart-" + c.name[:10]
			w := setupNamespace(t, ns)
			objs := renderChart(t, ns, append([]string{"-f", values}, c.args...)...)
			if skipped := applyObjects(t, ns, objs, false); len(skipped) > 0 {
				t.Fatalf("default chart objects of unknown kinds: %v", skipped)
			}
			kubeconfig := serviceAccountKubeconfig(t, ns, findObject(t, objs, "ServiceAccount", "eventide").GetName())
			conf := dataPathsIn(t, renderedConfig(t, objs))
			t.Setenv("POD_NAMESPACE", ns)
			start := func() (*testenv.Process, *testenv.SyncBuffer, *testenv.SyncBuffer) {
				stdout, stderr := &testenv.SyncBuffer{}, &testenv.SyncBuffer{}
				p, err := testenv.StartEventide(context.Background(), eventideBinary(t), conf, kubeconfig, stdout, stderr)
				if err != nil {
					t.Fatalf("%v\n%s", err, stderr)
				}
				t.Cleanup(p.Stop)
				return p, stdout, stderr
			}
			delivered := func(stdout, stderr *testenv.SyncBuffer, name string) {
				t.Helper()
				ev := kubeenv.PodEvent(w.Pods[0], name, "Warning", "BackOff", "Back-off restarting failed container")
				createEvent(t, ev)
				if err := testenv.PollUntil(waitCtx(t), 20*time.Millisecond, func() bool {
					return strings.Contains(stdout.String(), ev.Name)
				}); err != nil {
					t.Fatalf("event not delivered with the chart's RBAC (%v); logs:\n%s", err, stderr)
				}
			}
			p, stdout, stderr := start()
			delivered(stdout, stderr, "chart-"+c.name)
			if !strings.Contains(stdout.String(), `"owner":"team-`+ns) {
				t.Errorf("event delivered without its pod's labels: the chart's RBAC does not cover enrichment:\n%s", stdout)
			}
			if c.name == "cluster-wide" && strings.Contains(strings.ToLower(stderr.String()), "forbidden") {
				t.Errorf("a request was forbidden with the cluster-wide chart RBAC:\n%s", stderr)
			}
			role := findObject(t, objs, "Role", "eventide")
			checkpoint, groups := roleResourceNames(t, role, "configmaps")
			sa := saClient(t, kubeconfig)
			for _, name := range []string{checkpoint, groups} {
				if err := testenv.PollUntil(waitCtx(t), 50*time.Millisecond, func() bool {
					cm, err := sa.CoreV1().ConfigMaps(ns).Get(context.Background(), name, metav1.GetOptions{})
					return err == nil && len(cm.Data) > 0
				}); err != nil {
					t.Errorf("ConfigMap %s (named in the chart's Role) never written by eventide: %v\n%s", name, err, stderr)
				}
			}
			cannotUpdateConfigMaps(t, sa, ns, findObject(t, objs, "ConfigMap", "eventide").GetName())
			if !c.failover {
				return
			}
			_, standbyOut, standbyLogs := start()
			if err := p.Cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			if err := testenv.PollUntil(waitCtx(t), 50*time.Millisecond, func() bool {
				return strings.Contains(standbyLogs.String(), "leading: delivering events")
			}); err != nil {
				t.Fatalf("the standby never took over with the chart's Role (%v):\n%s", err, standbyLogs)
			}
			delivered(standbyOut, standbyLogs, "chart-after-failover")
		})
	}
}

// roleResourceNames is the two resourceNames of role's rule on resource:
// the checkpoint's and the group state's.
func roleResourceNames(t *testing.T, role *unstructured.Unstructured, resource string) (string, string) {
	t.Helper()
	rules, _, _ := unstructured.NestedSlice(role.Object, "rules")
	for _, r := range rules {
		rule := r.(map[string]any)
		names, _, _ := unstructured.NestedStringSlice(rule, "resourceNames")
		res, _, _ := unstructured.NestedStringSlice(rule, "resources")
		if slices.Contains(res, resource) && len(names) == 2 {
			return names[0], names[1]
		}
	}
	t.Fatalf("the chart's Role names no two %s: %v", resource, rules)
	return "", ""
}

func saClient(t *testing.T, kubeconfig string) kubernetes.Interface {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// cannotUpdateConfigMaps checks that the ServiceAccount's token can change
// neither the route file's ConfigMap nor one it has nothing to do with.
func cannotUpdateConfigMaps(t *testing.T, sa kubernetes.Interface, ns, routeConfigMap string) {
	t.Helper()
	ctx := context.Background()
	other := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "unrelated", Namespace: ns}, Data: map[string]string{"a": "b"}}
	if _, err := cluster.CS.CoreV1().ConfigMaps(ns).Create(ctx, other, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{routeConfigMap, "unrelated"} {
		cm, err := cluster.CS.CoreV1().ConfigMaps(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		cm.Data["config.yaml"] = "route: {}"
		if _, err := sa.CoreV1().ConfigMaps(ns).Update(ctx, cm, metav1.UpdateOptions{}); !apierrors.IsForbidden(err) {
			t.Errorf("updating ConfigMap %s with eventide's token: %v, want forbidden", name, err)
		}
		patch := []byte(`{"data":{"config.yaml":"route: {}"}}`)
		if _, err := sa.CoreV1().ConfigMaps(ns).Patch(ctx, name, types.MergePatchType, patch, metav1.PatchOptions{}); !apierrors.IsForbidden(err) {
			t.Errorf("patching ConfigMap %s with eventide's token: %v, want forbidden", name, err)
		}
	}
}

// serviceAccountKubeconfig writes a kubeconfig holding a token the API
// server issued for ServiceAccount ns/name.
func serviceAccountKubeconfig(t *testing.T, ns, name string) string {
	t.Helper()
	tok, err := cluster.CS.CoreV1().ServiceAccounts(ns).CreateToken(context.Background(), name,
		&authv1.TokenRequest{Spec: authv1.TokenRequestSpec{ExpirationSeconds: ptrTo(int64(3600))}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("token for %s/%s: %v", ns, name, err)
	}
	kc := clientcmdapi.NewConfig()
	kc.Clusters["test"] = &clientcmdapi.Cluster{Server: controlPlane.URL, CertificateAuthorityData: controlPlane.Admin.CAData}
	kc.AuthInfos["sa"] = &clientcmdapi.AuthInfo{Token: tok.Status.Token}
	kc.Contexts["test"] = &clientcmdapi.Context{Cluster: "test", AuthInfo: "sa", Namespace: ns}
	kc.CurrentContext = "test"
	path := filepath.Join(t.TempDir(), "sa.kubeconfig")
	if err := clientcmd.WriteToFile(*kc, path); err != nil {
		t.Fatal(err)
	}
	return path
}

// dataPathsIn writes config with its spool and dead-letter paths (the
// chart's volume) moved to a temporary folder, and returns the file.
func dataPathsIn(t *testing.T, config string) string {
	t.Helper()
	dir := t.TempDir()
	config = strings.ReplaceAll(config, "/var/lib/eventide", dir)
	path := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(path, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func ptrTo[T any](v T) *T { return &v }

func toJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// metricNamePattern pulls metric names out of PromQL and dashboard JSON.
var metricNamePattern = regexp.MustCompile(`\beventide_[a-z_]+`)

// Every metric the chart's alerts and dashboard query exists in eventide's
// /metrics; and the all-on objects pass the API server's validation.
func TestChartMetricsExist(t *testing.T) {
	ns := "chart-metrics"
	w := setupNamespace(t, ns)
	objs := renderChart(t, ns, "-f", filepath.Join(chartDir, "ci", "all-on-values.yaml"), "--set", "rbac.namespaces={"+ns+"}")
	skipped := applyObjects(t, ns, objs, true)
	t.Logf("server-side dry run of the all-on chart; kinds without a CRD here, checked by the API server's schema only when installed: %v", skipped)
	var queries []string
	for _, o := range objs {
		switch o.GetKind() {
		case "PrometheusRule":
			groups, _, _ := unstructured.NestedSlice(o.Object, "spec", "groups")
			b, _ := yaml.Marshal(groups)
			queries = append(queries, string(b))
		case "ConfigMap":
			if s, ok, _ := unstructured.NestedString(o.Object, "data", "eventide.json"); ok {
				queries = append(queries, s)
			}
		}
	}
	if len(queries) != 2 {
		t.Fatalf("want the PrometheusRule and the dashboard, found %d", len(queries))
	}
	names := map[string]bool{}
	for _, q := range queries {
		for _, n := range metricNamePattern.FindAllString(q, -1) {
			for _, suffix := range []string{"_bucket", "_sum", "_count"} {
				n = strings.TrimSuffix(n, suffix)
			}
			names[n] = true
		}
	}
	// A run with a receiver, leader election and one delivered event: the
	// series exist as they do in production.
	rec := testenv.NewRecorder()
	defer rec.Close()
	ex := startEventide(t, hookConfig(ns, rec.URL, "")+"leaderElection: {enabled: true, leaderElectionID: le-chart-metrics}\n")
	createEvent(t, kubeenv.PodEvent(w.Pods[0], "chart-metrics", "Warning", "BackOff", "Back-off"))
	if _, err := rec.WaitFor(waitCtx(t), func(r []testenv.Request) bool { return len(r) >= 1 }); err != nil {
		t.Fatal(err)
	}
	exposed := ex.metrics(t)
	var missing []string
	for n := range names {
		if !strings.Contains(exposed, "# TYPE "+n+" ") {
			missing = append(missing, n)
		}
	}
	slices.Sort(missing)
	if len(missing) > 0 {
		t.Errorf("the chart's alerts or dashboard query metrics eventide does not expose: %v", missing)
	} else {
		t.Logf("%d metric names queried by the chart, all exposed", len(names))
	}
}

// A release is one tag: the chart's version and appVersion are the same
// release, CHANGELOG.md has its section, and the chart's default image is
// the published one at that version (image tags carry no leading v).
func TestChartVersionsInStep(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(chartDir, "Chart.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var chart struct {
		Version    string `yaml:"version"`
		AppVersion string `yaml:"appVersion"`
	}
	if err := yaml.Unmarshal(raw, &chart); err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^\d+\.\d+\.\d+$`).MatchString(chart.Version) || chart.AppVersion != chart.Version {
		t.Errorf("Chart.yaml version %q and appVersion %q: want the same semantic version, without a v", chart.Version, chart.AppVersion)
	}
	changelog, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "CHANGELOG.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^## \[(Unreleased|` + regexp.QuoteMeta(chart.Version) + `)\]`).Match(changelog) {
		t.Errorf("CHANGELOG.md has neither an [Unreleased] nor a [%s] section", chart.Version)
	}
	dep := findObject(t, renderChart(t, "monitoring"), "Deployment", "eventide")
	containers, _, _ := unstructured.NestedSlice(dep.Object, "spec", "template", "spec", "containers")
	if got, want := containers[0].(map[string]any)["image"], "ghcr.io/eventide/eventide:"+chart.AppVersion; got != want {
		t.Errorf("the default image is %v, want %s", got, want)
	}
}
