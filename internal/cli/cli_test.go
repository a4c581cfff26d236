package cli

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eventide/eventide/internal/testenv"
)

func run(args ...string) (code int, stdout, stderr string) {
	var out, errOut strings.Builder
	code = Run(context.Background(), args, &out, &errOut, "v1.2.3")
	return code, out.String(), errOut.String()
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// unreachableKubeconfig points at an API server nobody listens for.
const unreachableKubeconfig = `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: c, context: {cluster: c, user: u}}]
current-context: c
`

const validConfig = "route: {match: [{receiver: out}]}\nreceivers: [{name: out, stdout: {}}]\n"

// Every invocation says what it did or what was wrong; help is not an error.
func TestCommandLine(t *testing.T) {
	conf := writeFile(t, "config.yaml", validConfig)
	insecure := writeFile(t, "insecure.yaml", "route: {match: [{receiver: h}]}\nreceivers: [{name: h, webhook: {endpoint: 'https://h.example/x?k=s', tls: {insecureSkipVerify: true}}}]\n")
	for _, tc := range []struct {
		args           []string
		code           int
		stdout, stderr string
	}{
		{[]string{"-h"}, 0, "eventide validate", ""},
		{[]string{"--help"}, 0, "-metrics-address", ""},
		{[]string{"help"}, 0, "eventide version", ""},
		{[]string{"--version"}, 0, "eventide v1.2.3", ""},
		{[]string{"version"}, 0, "eventide v1.2.3", ""},
		{[]string{"bogus"}, 2, "", `unknown command "bogus"`},
		{[]string{"-nope"}, 2, "", "flag provided but not defined: -nope"},
		{[]string{"validate", "-h"}, 0, "-conf", ""},
		{[]string{"validate", conf}, 0, "valid (1 receivers", ""},
		{[]string{"validate", "-conf", conf}, 0, "valid (1 receivers", ""},
		{[]string{"validate", conf, "extra"}, 2, "", "unexpected arguments"},
		{[]string{"validate", filepath.Join(t.TempDir(), "missing.yaml")}, 1, "", "no such file"},
		{[]string{"validate", insecure}, 0, "valid", "warning: TLS certificate verification is off"},
	} {
		code, stdout, stderr := run(tc.args...)
		if code != tc.code || !strings.Contains(stdout, tc.stdout) || !strings.Contains(stderr, tc.stderr) {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want %d, %q, %q", tc.args, code, stdout, stderr, tc.code, tc.stdout, tc.stderr)
		}
	}
}

// A metrics port already in use stops eventide with an error, rather than
// running on without metrics, probes or /-/reload.
func TestBusyMetricsPortExits(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	kubeconfig := writeFile(t, "kubeconfig", unreachableKubeconfig)
	var out, errOut testenv.SyncBuffer
	f := ServeFlags{Conf: writeFile(t, "config.yaml", validConfig), Kubeconfig: kubeconfig, MetricsAddress: ln.Addr().String()}
	if code := ServeContext(context.Background(), f, &out, &errOut, "test", nil); code != ExitFailed || !strings.Contains(errOut.String(), "cannot serve metrics") {
		t.Errorf("exit %d, log %s", code, errOut.String())
	}
}

// An API server that cannot be reached is logged at once and counted, and
// /healthz fails once that lasted -unhealthy-after, so a liveness probe
// restarts eventide instead of leaving it running and exporting nothing.
func TestUnreachableAPIServerIsReported(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	kubeconfig := writeFile(t, "kubeconfig", unreachableKubeconfig)
	conf := writeFile(t, "config.yaml", "checkpoint: {enabled: false}\nomitLookup: true\n"+validConfig)
	var stdout, stderr testenv.SyncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() {
		done <- ServeContext(ctx, ServeFlags{Conf: conf, Kubeconfig: kubeconfig, MetricsAddress: addr, UnhealthyAfter: time.Second}, &stdout, &stderr, "test", nil)
	}()
	defer func() { cancel(); <-done }()
	get := func(path string) (int, string) {
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			return 0, ""
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	wctx, wcancel := context.WithTimeout(ctx, 30*time.Second)
	defer wcancel()
	err = testenv.PollUntil(wctx, 50*time.Millisecond, func() bool {
		code, _ := get("/healthz")
		_, metrics := get("/metrics")
		return code == http.StatusServiceUnavailable && strings.Contains(metrics, `eventide_watch_errors_total{reason="error"}`) &&
			strings.Contains(stderr.String(), "event watch failing")
	})
	if err != nil {
		code, body := get("/healthz")
		t.Fatalf("%v: /healthz %d %s\nlog:\n%s", err, code, body, stderr.String())
	}
}
