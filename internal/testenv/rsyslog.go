package testenv

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// Rsyslog is Debian's rsyslogd listening on loopback UDP, TCP and, when
// rsyslog-relp is installed, RELP, writing each message it parses as one
// line of Out: PRI|TIMESTAMP|HOSTNAME|APP-NAME|MSGID|MSG.
type Rsyslog struct {
	UDP, TCP string // host:port
	RELP     string // host:port; "" without the imrelp module
	Out      string
	cmd      *exec.Cmd
}

// haveIMRELP reports whether rsyslog's RELP input module is installed.
func haveIMRELP() bool {
	for _, pattern := range []string{"/usr/lib/*/rsyslog/imrelp.so", "/usr/lib/rsyslog/imrelp.so"} {
		if m, _ := filepath.Glob(pattern); len(m) > 0 {
			return true
		}
	}
	return false
}

// StartRsyslog runs rsyslogd in dir; the error says when it is not
// installed (make tools installs it).
func StartRsyslog(ctx context.Context, dir string) (*Rsyslog, error) {
	bin, err := exec.LookPath("rsyslogd")
	if err != nil {
		if _, statErr := os.Stat("/usr/sbin/rsyslogd"); statErr != nil {
			return nil, fmt.Errorf("rsyslogd not found: run `make tools` (hack/build-tools.sh), which `make test` does")
		}
		bin = "/usr/sbin/rsyslogd"
	}
	udp, err := FreePort()
	if err != nil {
		return nil, err
	}
	tcp, err := FreePort()
	if err != nil {
		return nil, err
	}
	r := &Rsyslog{UDP: fmt.Sprintf("127.0.0.1:%d", udp), TCP: fmt.Sprintf("127.0.0.1:%d", tcp), Out: filepath.Join(dir, "out.log")}
	relp := ""
	if haveIMRELP() {
		port, err := FreePort()
		if err != nil {
			return nil, err
		}
		r.RELP = fmt.Sprintf("127.0.0.1:%d", port)
		relp = fmt.Sprintf("module(load=\"imrelp\")\ninput(type=\"imrelp\" address=\"127.0.0.1\" port=\"%d\")\n", port)
	}
	conf := fmt.Sprintf(`global(workDirectory=%q maxMessageSize="64k")
module(load="imudp")
module(load="imtcp")
input(type="imudp" address="127.0.0.1" port="%d")
input(type="imtcp" address="127.0.0.1" port="%d")
%stemplate(name="fields" type="string" string="%%pri%%|%%timereported:::date-rfc3339%%|%%hostname%%|%%app-name%%|%%msgid%%|%%msg%%\n")
*.* action(type="omfile" file=%q template="fields")
`, dir, udp, tcp, relp, r.Out)
	path := filepath.Join(dir, "rsyslog.conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		return nil, err
	}
	r.cmd = exec.Command(bin, "-n", "-f", path, "-i", filepath.Join(dir, "rsyslog.pid"))
	logs := &SyncBuffer{}
	r.cmd.Stdout, r.cmd.Stderr = logs, logs
	if err := r.cmd.Start(); err != nil {
		return nil, err
	}
	wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := PollUntil(wctx, 20*time.Millisecond, func() bool {
		c, err := net.Dial("tcp", r.TCP)
		if err == nil {
			c.Close()
		}
		return err == nil
	}); err != nil {
		r.Stop()
		return nil, fmt.Errorf("rsyslogd did not listen on %s: %v\n%s", r.TCP, err, logs)
	}
	return r, nil
}

// Lines waits until Out holds at least n lines and returns them.
func (r *Rsyslog) Lines(ctx context.Context, n int) ([]string, error) {
	var lines []string
	err := PollUntil(ctx, 20*time.Millisecond, func() bool {
		b, _ := os.ReadFile(r.Out)
		lines = strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
		if len(b) == 0 {
			lines = nil
		}
		return len(lines) >= n
	})
	if err != nil {
		return lines, fmt.Errorf("rsyslog wrote %d of %d lines: %w", len(lines), n, err)
	}
	return lines, nil
}

// Stop ends rsyslogd.
func (r *Rsyslog) Stop() { StopCmd(r.cmd) }
