package testenv

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// BuildEventide builds the eventide binary into dir and returns its path.
func BuildEventide(dir string) (string, error) {
	out := filepath.Join(dir, "eventide")
	// The flags of `make build` (static, trimmed paths): the binary tests
	// run is the one that ships, and the image test's build reuses every
	// compiled package instead of compiling the tree a second time.
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", out, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	cmd.Dir = RepoRoot()
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("build eventide: %w", err)
	}
	return out, nil
}

// Process is eventide running as its own process.
type Process struct {
	Cmd        *exec.Cmd
	MetricsURL string
	// WebURL is its status page (-web-address): a free loopback port
	// unless extraArgs named one.
	WebURL string
}

// StartEventide runs binary with config against kubeconfig, its stdout and
// stderr going to the given writers, and returns once /readyz answers.
func StartEventide(ctx context.Context, binary, config, kubeconfig string, stdout, stderr io.Writer, extraArgs ...string) (*Process, error) {
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	p := &Process{MetricsURL: fmt.Sprintf("http://127.0.0.1:%d", port)}
	p.Cmd = exec.Command(binary, "-conf", config, "-kubeconfig", kubeconfig, "-metrics-address", fmt.Sprintf("127.0.0.1:%d", port))
	if i := slices.Index(extraArgs, "-web-address"); i >= 0 && i+1 < len(extraArgs) {
		p.WebURL = "http://" + extraArgs[i+1]
	} else {
		// Not the default 127.0.0.1:2113: processes run side by side.
		web, err := FreePort()
		if err != nil {
			return nil, err
		}
		p.WebURL = fmt.Sprintf("http://127.0.0.1:%d", web)
		p.Cmd.Args = append(p.Cmd.Args, "-web-address", p.WebURL[len("http://"):])
	}
	p.Cmd.Args = append(p.Cmd.Args, extraArgs...)
	p.Cmd.Stdout, p.Cmd.Stderr = stdout, stderr
	if err := p.Cmd.Start(); err != nil {
		return nil, err
	}
	exited := make(chan error, 1)
	go func() { exited <- p.Cmd.Wait() }()
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	for {
		resp, err := http.Get(p.MetricsURL + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				go func() { <-exited }()
				return p, nil
			}
		}
		select {
		case err := <-exited:
			return nil, fmt.Errorf("eventide exited before it was ready: %v", err)
		case <-ctx.Done():
			_ = p.Cmd.Process.Kill()
			return nil, fmt.Errorf("eventide not ready: %w", ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Stop sends SIGTERM and waits for the process to exit.
func (p *Process) Stop() {
	_ = p.Cmd.Process.Signal(syscall.SIGTERM)
	for i := 0; i < 300; i++ {
		if p.Cmd.Process.Signal(syscall.Signal(0)) != nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	_ = p.Cmd.Process.Kill()
}

// CPUSeconds is the user+system CPU time the process used so far.
func (p *Process) CPUSeconds() (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.Cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	// Fields after the command name (which may hold spaces) in parentheses.
	fields := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	utime, _ := strconv.ParseFloat(fields[11], 64)
	stime, _ := strconv.ParseFloat(fields[12], 64)
	return (utime + stime) / 100, nil // USER_HZ is 100 on Linux
}

// PeakRSSBytes is the process's high-water resident set size (VmHWM).
func (p *Process) PeakRSSBytes() (int64, error) {
	return p.statusBytes("VmHWM")
}

// RSSSplit is the resident set now: anonymous memory (heap, stacks) and
// file pages (the binary's code and data).
func (p *Process) RSSSplit() (anon, file int64, err error) {
	if anon, err = p.statusBytes("RssAnon"); err != nil {
		return 0, 0, err
	}
	file, err = p.statusBytes("RssFile")
	return anon, file, err
}

func (p *Process) statusBytes(field string) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.Cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb * 1024, err
		}
	}
	return 0, fmt.Errorf("no %s", field)
}
