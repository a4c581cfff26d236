package testenv

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// Tool finds a packaging tool the chart and image tests use (helm,
// buildah): first in the cache hack/build-tools.sh fills, then on PATH. The
// error says how to get it; tests skip with it, since `make test` installs
// both.
func Tool(name string) (string, error) {
	p := filepath.Join(CacheDir(), "bin", name)
	if _, err := os.Stat(p); err == nil {
		return p, nil
	}
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("%s not found (in %s or on PATH): run `make tools` (hack/build-tools.sh), which `make test` does", name, filepath.Dir(p))
}

// RepoRoot finds the repository root from the caller's source file.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// FreePort returns a loopback TCP port nobody listens on right now.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// StopCmd interrupts c and waits for it; killed after 10s.
func StopCmd(c *exec.Cmd) {
	if c == nil || c.Process == nil {
		return
	}
	_ = c.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { _ = c.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = c.Process.Kill()
		<-done
	}
}

// Outside marks a test that needs a server outside Go (npm's AWS servers
// under node, rsyslog): `make unit` (EVENTIDE_UNIT=1) skips it and
// `make test` runs it.
func Outside(t testing.TB, what string) {
	t.Helper()
	if os.Getenv("EVENTIDE_UNIT") != "" {
		t.Skipf("needs %s: `make test` runs it", what)
	}
}
