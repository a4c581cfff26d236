package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"testing"
	"time"

	"github.com/eventide/eventide/internal/testenv"
)

// buildah runs buildah on its own storage under root (vfs, chroot: no
// daemon, no privileges beyond the test's).
type buildah struct {
	bin, root string
}

func (b buildah) cmd(args ...string) *exec.Cmd {
	base := []string{"--storage-driver", "vfs", "--root", filepath.Join(b.root, "storage"), "--runroot", filepath.Join(b.root, "run")}
	return exec.Command(b.bin, append(base, args...)...)
}

func (b buildah) run(t *testing.T, args ...string) string {
	t.Helper()
	out, err := b.cmd(args...).CombinedOutput()
	if err != nil {
		t.Fatalf("buildah %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// The image builds from the Dockerfile around a static binary, and runs as
// user 65532 with nothing writable but the mounted folders: `version`, the
// chart's default route file validated, eventide serving against the
// control plane with the chart's data folder mounted, and a clear error
// naming the setting when that folder is not mounted.
func TestImage(t *testing.T) {
	bin, err := testenv.Tool("buildah")
	if err != nil {
		t.Skip(err)
	}
	b := buildah{bin: bin, root: t.TempDir()}
	ctxDir := t.TempDir()
	for _, f := range []string{"Dockerfile", ".dockerignore"} {
		data, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(ctxDir, f), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	build := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w -X main.version=v0.0.0-image-test", "-o", filepath.Join(ctxDir, "bin", "linux-"+goruntime.GOARCH, "eventide"), ".")
	build.Dir = testenv.RepoRoot()
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("static build: %v\n%s", err, out)
	}
	ca, err := os.ReadFile("/etc/ssl/certs/ca-certificates.crt")
	if err != nil {
		t.Skipf("no CA bundle on this machine to put in the image: %v", err)
	}
	if err := os.WriteFile(filepath.Join(ctxDir, "bin", "ca-certificates.crt"), ca, 0o644); err != nil {
		t.Fatal(err)
	}
	b.run(t, "bud", "--isolation", "chroot", "--layers=false", "--platform", "linux/"+goruntime.GOARCH,
		"--build-arg", "VERSION=0.0.0-image-test", "--build-arg", "REVISION=abc123", "-t", "eventide-test", ctxDir)
	cfg := b.run(t, "inspect", "--format", "{{.OCIv1.Config.User}} {{.OCIv1.Config.Entrypoint}}", "eventide-test")
	if cfg != "65532:65532 [/usr/local/bin/eventide]" {
		t.Errorf("image user and entrypoint %q", cfg)
	}
	labels := b.run(t, "inspect", "--format", "{{.OCIv1.Config.Labels}}", "eventide-test")
	for _, want := range []string{"org.opencontainers.image.version:0.0.0-image-test", "org.opencontainers.image.revision:abc123",
		"org.opencontainers.image.source:https://github.com/eventide/eventide", "org.opencontainers.image.licenses:Apache-2.0"} {
		if !strings.Contains(labels, want) {
			t.Errorf("image labels %s lack %s", labels, want)
		}
	}
	ctr := b.run(t, "from", "eventide-test")
	defer b.cmd("rm", ctr).Run()

	// The chart's default route file, mounted read-only where the chart
	// mounts it; a data folder the image's user owns.
	confDir := t.TempDir()
	objs := renderChart(t, "eventide-image")
	if err := os.WriteFile(filepath.Join(confDir, "config.yaml"), []byte(renderedConfig(t, objs)), 0o644); err != nil {
		t.Fatal(err)
	}
	kc, err := os.ReadFile(controlPlane.ExporterKubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(confDir, "kubeconfig"), kc, 0o644); err != nil {
		t.Fatal(err)
	}
	dataDir := t.TempDir()
	if err := os.Chown(dataDir, 65532, 65532); err != nil {
		t.Skipf("cannot give the data folder to user 65532 (not root?): %v", err)
	}
	if err := os.Chmod(confDir, 0o755); err != nil {
		t.Fatal(err)
	}
	runIn := func(mounts []string, args ...string) *exec.Cmd {
		a := []string{"run", "--isolation", "chroot", "--user", "65532:65532"}
		for _, m := range mounts {
			a = append(a, "-v", m)
		}
		return b.cmd(append(append(a, ctr, "--", "/usr/local/bin/eventide"), args...)...)
	}
	conf := confDir + ":/etc/eventide:ro"

	if out, err := runIn(nil, "version").CombinedOutput(); err != nil || !strings.Contains(string(out), "eventide v0.0.0-image-test") {
		t.Errorf("eventide version in the image: %v\n%s", err, out)
	}
	if out, err := runIn([]string{conf}, "validate", "/etc/eventide/config.yaml").CombinedOutput(); err != nil || !strings.Contains(string(out), "valid") {
		t.Errorf("validate the chart's default config in the image: %v\n%s", err, out)
	}
	serve := []string{"-conf", "/etc/eventide/config.yaml", "-kubeconfig", "/etc/eventide/kubeconfig"}

	// No data folder mounted: the read-only image refuses, naming the setting.
	out, err := runIn([]string{conf}, append(serve, "-metrics-address", "")...).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "set deadLetter.path") && !strings.Contains(string(out), "set spool.dir") {
		t.Errorf("without a writable data folder: %v, want an error naming the setting:\n%s", err, out)
	}

	// With it: eventide serves and answers /readyz.
	port, err := testenv.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	logs := &testenv.SyncBuffer{}
	cmd := runIn([]string{conf, dataDir + ":/var/lib/eventide"}, append(serve, "-metrics-address", fmt.Sprintf("127.0.0.1:%d", port))...)
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		_ = cmd.Process.Kill()
		<-exited
	}()
	ready := func() bool {
		select {
		case <-exited:
			t.Fatalf("eventide exited in the image:\n%s", logs.String())
		default:
		}
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/readyz", port))
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := testenv.PollUntil(ctx, 50*time.Millisecond, ready); err != nil {
		t.Fatalf("eventide in the image never ready (%v):\n%s", err, logs.String())
	}
	if _, err := os.Stat(filepath.Join(dataDir, "spool")); err != nil {
		t.Errorf("no spool in the mounted data folder: %v", err)
	}
}
