package e2e

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/eventide/eventide/internal/cli"
	"github.com/eventide/eventide/internal/testenv"
)

func TestHealthAndReadiness(t *testing.T) {
	ns := "e2e-health"
	setupNamespace(t, ns)
	ex := startEventide(t, hookConfig(ns, "http://127.0.0.1:9/", ""))
	for _, path := range []string{"/healthz", "/readyz"} {
		resp, err := http.Get(ex.metricsURL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s: %d", path, resp.StatusCode)
		}
	}
	m := ex.metrics(t)
	// client-go streams the initial list over the watch (sendInitialEvents):
	// one WATCH request, no LIST.
	for _, want := range []string{"eventide_kube_api_requests_total{code=\"200\",verb=\"WATCH\"}", "eventide_config_receivers 1", "go_goroutines", "process_resident_memory_bytes"} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

func TestValidateCommand(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("route:\n  routes:\n    - match:\n        - Kind: Pod\n          receiver: nowhere\nreceivers:\n  - name: dump\n    stdout: {}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	if code := cli.Run(context.Background(), []string{"validate", "-conf", bad}, &out, &errOut, "test"); code != 1 {
		t.Errorf("exit %d for an invalid file", code)
	}
	for _, want := range []string{"route.routes[0].match[0].Kind (line 4): unknown key", `route.routes[0].match[0].receiver: undefined receiver "nowhere"`} {
		if !strings.Contains(errOut.String(), want) {
			t.Errorf("validate output lacks %q:\n%s", want, errOut.String())
		}
	}
	out.Reset()
	errOut.Reset()
	if code := cli.Run(context.Background(), []string{"validate", "--config", filepath.Join(testenv.RepoRoot(), "config.example.yaml")}, &out, &errOut, "test"); code != 0 {
		t.Errorf("example config: exit %d: %s", code, errOut.String())
	}
	if !strings.Contains(out.String(), "valid (4 receivers") {
		t.Errorf("output %q", out.String())
	}
	if code := cli.Run(context.Background(), []string{"validate", "-conf", filepath.Join(dir, "missing.yaml")}, &out, &errOut, "test"); code != 1 {
		t.Errorf("missing file: exit %d", code)
	}
}
