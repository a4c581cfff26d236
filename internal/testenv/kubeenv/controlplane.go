// Package testenv starts the real servers eventide's tests and benchmarks run
// against: etcd and kube-apiserver built from source and cached (see
// hack/build-control-plane.sh), and recording HTTP receivers. Everything binds
// to 127.0.0.1 and stops when asked.
package kubeenv

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/eventide/eventide/internal/testenv"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/yaml"
)

// ExporterUser is the user eventide runs as against the test control plane;
// it holds only the chart's RBAC rules.
const ExporterUser = "eventide"

// ExporterNamespace is the namespace eventide "runs in" against the test
// control plane (its kubeconfig's context namespace): where its checkpoint
// ConfigMap and leader Lease live.
const ExporterNamespace = "eventide-system"

// ControlPlane is a running etcd + kube-apiserver.
type ControlPlane struct {
	Dir                string
	URL                string
	Admin              *rest.Config // system:masters
	Exporter           *rest.Config // ExporterUser, chart RBAC only
	ExporterKubeconfig string       // a kubeconfig file for ExporterUser
	AuditLog           string       // one JSON audit event per line, ExporterUser only

	etcd, apiserver *exec.Cmd
	etcdURL         string
	apiserverArgs   []string
	logs            *os.File
}

// Binaries builds (once, cached by version) and returns the folder holding
// kube-apiserver and etcd.
func Binaries() (string, error) {
	cmd := exec.Command("bash", filepath.Join(testenv.RepoRoot(), "hack", "build-control-plane.sh"))
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("build control plane: %w", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	return lines[len(lines)-1], nil
}

// StartControlPlane starts etcd and kube-apiserver in a new folder under
// dir, creates the exporter user's RBAC, and returns once the API server is
// ready. Call Stop when done.
func StartControlPlane(ctx context.Context, dir string) (*ControlPlane, error) {
	bin, err := Binaries()
	if err != nil {
		return nil, err
	}
	cp := &ControlPlane{Dir: dir}
	if cp.logs, err = os.Create(filepath.Join(dir, "control-plane.log")); err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			cp.Stop()
		}
	}()
	if err := cp.writeFiles(); err != nil {
		return nil, err
	}
	ports := make([]int, 3)
	for i := range ports {
		if ports[i], err = testenv.FreePort(); err != nil {
			return nil, err
		}
	}
	cp.etcdURL = fmt.Sprintf("http://127.0.0.1:%d", ports[0])
	cp.etcd = exec.Command(filepath.Join(bin, "etcd"),
		"--data-dir", filepath.Join(dir, "etcd"),
		"--listen-client-urls", cp.etcdURL, "--advertise-client-urls", cp.etcdURL,
		"--listen-peer-urls", fmt.Sprintf("http://127.0.0.1:%d", ports[1]),
		"--initial-advertise-peer-urls", fmt.Sprintf("http://127.0.0.1:%d", ports[1]),
		"--initial-cluster", fmt.Sprintf("default=http://127.0.0.1:%d", ports[1]),
		"--quota-backend-bytes", "4294967296", "--log-level", "warn")
	cp.etcd.Stdout, cp.etcd.Stderr = cp.logs, cp.logs
	if err := cp.etcd.Start(); err != nil {
		return nil, fmt.Errorf("start etcd: %w", err)
	}
	if err := waitHTTP(ctx, cp.etcdURL+"/health", nil, 30*time.Second); err != nil {
		return nil, fmt.Errorf("etcd not healthy: %w (log: %s)", err, cp.logs.Name())
	}
	cp.URL = fmt.Sprintf("https://127.0.0.1:%d", ports[2])
	cp.apiserverArgs = []string{
		"--etcd-servers=" + cp.etcdURL,
		"--bind-address=127.0.0.1", "--advertise-address=127.0.0.1",
		fmt.Sprintf("--secure-port=%d", ports[2]),
		"--cert-dir=" + filepath.Join(dir, "certs"),
		"--service-account-issuer=https://kubernetes.default.svc",
		"--service-account-key-file=" + filepath.Join(dir, "sa.pub"),
		"--service-account-signing-key-file=" + filepath.Join(dir, "sa.key"),
		"--token-auth-file=" + filepath.Join(dir, "tokens.csv"),
		"--authorization-mode=RBAC",
		"--service-cluster-ip-range=10.96.0.0/24",
		"--audit-policy-file=" + filepath.Join(dir, "audit-policy.yaml"),
		"--audit-log-path=" + filepath.Join(dir, "audit.log"),
		"--audit-log-mode=blocking",
		"--event-ttl=1h",
	}
	cp.AuditLog = filepath.Join(dir, "audit.log")
	if err := cp.startAPIServer(ctx); err != nil {
		return nil, err
	}
	if err := cp.clients(); err != nil {
		return nil, err
	}
	if err := cp.grantExporterRBAC(ctx); err != nil {
		return nil, err
	}
	ok = true
	return cp, nil
}

func (cp *ControlPlane) startAPIServer(ctx context.Context) error {
	bin, err := Binaries()
	if err != nil {
		return err
	}
	cp.apiserver = exec.Command(filepath.Join(bin, "kube-apiserver"), cp.apiserverArgs...)
	cp.apiserver.Stdout, cp.apiserver.Stderr = cp.logs, cp.logs
	if err := cp.apiserver.Start(); err != nil {
		return fmt.Errorf("start kube-apiserver: %w", err)
	}
	insecure := &http.Client{Transport: &http.Transport{TLSClientConfig: insecureTLS()}}
	if err := waitHTTP(ctx, cp.URL+"/readyz", insecure, 90*time.Second); err != nil {
		return fmt.Errorf("kube-apiserver not ready: %w (log: %s)", err, cp.logs.Name())
	}
	return nil
}

// RestartAPIServer stops kube-apiserver and starts it again on the same
// port and etcd, for tests of a watch that breaks.
func (cp *ControlPlane) RestartAPIServer(ctx context.Context) error {
	cp.StopAPIServer()
	return cp.startAPIServer(ctx)
}

// StopAPIServer stops kube-apiserver until StartAPIServer: a watch that
// stays broken.
func (cp *ControlPlane) StopAPIServer() { testenv.StopCmd(cp.apiserver) }

// StartAPIServer starts kube-apiserver again after StopAPIServer and
// returns once it is ready.
func (cp *ControlPlane) StartAPIServer(ctx context.Context) error { return cp.startAPIServer(ctx) }

// Stop ends kube-apiserver and etcd.
func (cp *ControlPlane) Stop() {
	testenv.StopCmd(cp.apiserver)
	testenv.StopCmd(cp.etcd)
	if cp.logs != nil {
		cp.logs.Close()
	}
}

const (
	adminToken    = "admin-token-for-tests"
	exporterToken = "eventide-token-for-tests"
)

func (cp *ControlPlane) writeFiles() error {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return err
	}
	files := map[string][]byte{
		"sa.key":     pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}),
		"sa.pub":     pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}),
		"tokens.csv": []byte(adminToken + ",admin,admin-uid,system:masters\n" + exporterToken + "," + ExporterUser + ",eventide-uid\n"),
		"audit-policy.yaml": []byte(`apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
- level: Metadata
  users: ["` + ExporterUser + `"]
- level: None
`),
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(cp.Dir, name), b, 0o600); err != nil {
			return err
		}
	}
	return nil
}

func (cp *ControlPlane) clients() error {
	ca, err := os.ReadFile(filepath.Join(cp.Dir, "certs", "apiserver.crt"))
	if err != nil {
		return fmt.Errorf("read serving certificate: %w", err)
	}
	tls := rest.TLSClientConfig{CAData: ca}
	cp.Admin = &rest.Config{Host: cp.URL, BearerToken: adminToken, TLSClientConfig: tls, QPS: 1000, Burst: 2000}
	cp.Exporter = &rest.Config{Host: cp.URL, BearerToken: exporterToken, TLSClientConfig: tls}
	kc := clientcmdapi.NewConfig()
	kc.Clusters["test"] = &clientcmdapi.Cluster{Server: cp.URL, CertificateAuthorityData: ca}
	kc.AuthInfos[ExporterUser] = &clientcmdapi.AuthInfo{Token: exporterToken}
	kc.Contexts["test"] = &clientcmdapi.Context{Cluster: "test", AuthInfo: ExporterUser, Namespace: ExporterNamespace}
	kc.CurrentContext = "test"
	cp.ExporterKubeconfig = filepath.Join(cp.Dir, "eventide.kubeconfig")
	return clientcmd.WriteToFile(*kc, cp.ExporterKubeconfig)
}

// ChartRBACRules reads the rules the Helm chart grants eventide: file is
// rbac-rules.yaml (cluster-wide) or role-rules.yaml (its own namespace).
// role-rules.yaml limits its rules to the names of one release's objects,
// filled in by the chart; here they are dropped (the tests' user writes a
// checkpoint per test), with the verbs kept. The chart test checks the
// named rules with the chart's own ServiceAccount.
func ChartRBACRules(file string) ([]rbacv1.PolicyRule, error) {
	b, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "charts", "eventide", "files", file))
	if err != nil {
		return nil, err
	}
	b = templateAction.ReplaceAll(b, []byte("name"))
	var rules []rbacv1.PolicyRule
	if err := yaml.UnmarshalStrict(b, &rules); err != nil {
		return nil, fmt.Errorf("chart rbac rules: %w", err)
	}
	for i := range rules {
		rules[i].ResourceNames = nil
	}
	return rules, nil
}

// templateAction is a Helm template action in a chart file.
var templateAction = regexp.MustCompile(`\{\{[^}]*\}\}`)

func (cp *ControlPlane) grantExporterRBAC(ctx context.Context) error {
	rules, err := ChartRBACRules("rbac-rules.yaml")
	if err != nil {
		return err
	}
	nsRules, err := ChartRBACRules("role-rules.yaml")
	if err != nil {
		return err
	}
	cs, err := kubernetes.NewForConfig(cp.Admin)
	if err != nil {
		return err
	}
	if _, err := cs.RbacV1().ClusterRoles().Create(ctx, &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: "eventide"}, Rules: rules,
	}, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create cluster role: %w", err)
	}
	_, err = cs.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "eventide"},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "eventide"},
		Subjects:   []rbacv1.Subject{{Kind: "User", APIGroup: "rbac.authorization.k8s.io", Name: ExporterUser}},
	}, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("create cluster role binding: %w", err)
	}
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ExporterNamespace}}, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create namespace %s: %w", ExporterNamespace, err)
	}
	if _, err := cs.RbacV1().Roles(ExporterNamespace).Create(ctx, &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Name: "eventide"}, Rules: nsRules,
	}, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create role: %w", err)
	}
	_, err = cs.RbacV1().RoleBindings(ExporterNamespace).Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "eventide"},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "eventide"},
		Subjects:   []rbacv1.Subject{{Kind: "User", APIGroup: "rbac.authorization.k8s.io", Name: ExporterUser}},
	}, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("create role binding: %w", err)
	}
	return nil
}

// AuditRequest is one request ExporterUser made, from the audit log.
type AuditRequest struct {
	Verb       string `json:"verb"`
	RequestURI string `json:"requestURI"`
	Stage      string `json:"stage"`
	Code       int
	Received   time.Time
}

// ExporterRequests reads the audit log: every request ExporterUser made,
// once each (at its ResponseComplete or ResponseStarted stage for watches).
func (cp *ControlPlane) ExporterRequests() ([]AuditRequest, error) {
	f, err := os.Open(cp.AuditLog)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []AuditRequest
	seen := map[string]bool{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		var a struct {
			AuditID    string `json:"auditID"`
			Stage      string `json:"stage"`
			Verb       string `json:"verb"`
			RequestURI string `json:"requestURI"`
			User       struct {
				Username string `json:"username"`
			} `json:"user"`
			ResponseStatus struct {
				Code int `json:"code"`
			} `json:"responseStatus"`
			RequestReceivedTimestamp time.Time `json:"requestReceivedTimestamp"`
		}
		if err := json.Unmarshal(sc.Bytes(), &a); err != nil {
			return nil, fmt.Errorf("audit log: %w", err)
		}
		if a.User.Username != ExporterUser || seen[a.AuditID] {
			continue
		}
		seen[a.AuditID] = true
		out = append(out, AuditRequest{Verb: a.Verb, RequestURI: a.RequestURI, Stage: a.Stage,
			Code: a.ResponseStatus.Code, Received: a.RequestReceivedTimestamp})
	}
	return out, sc.Err()
}

func waitHTTP(ctx context.Context, url string, c *http.Client, timeout time.Duration) error {
	if c == nil {
		c = http.DefaultClient
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		req.Header.Set("Authorization", "Bearer "+adminToken)
		resp, err := c.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("HTTP %d", resp.StatusCode)
		}
		last = err
		select {
		case <-ctx.Done():
			return errors.Join(ctx.Err(), last)
		case <-tick.C:
		}
	}
}
