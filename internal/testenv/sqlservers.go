package testenv

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// SQLServer is a database server on loopback for the sql receiver's
// tests: Debian's MariaDB or PostgreSQL, its data in a folder of its own.
type SQLServer struct {
	Driver string // mysql or postgres, as the receiver names it
	DSN    string // to database "events"
	cmd    *exec.Cmd
	dir    string
}

// StartMariaDB runs mariadbd with an empty root password on a free port
// and creates database events; the error says when it is not installed
// (make tools installs it).
func StartMariaDB(ctx context.Context) (*SQLServer, error) {
	install, err := exec.LookPath("mariadb-install-db")
	if err != nil {
		return nil, fmt.Errorf("mariadb-install-db not found: run `make tools` (hack/build-tools.sh), which `make test` does")
	}
	dir, err := os.MkdirTemp("", "eventide-mariadb-")
	if err != nil {
		return nil, err
	}
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	me := "mysql"
	if os.Getuid() == 0 {
		me = "root"
	}
	if out, err := exec.CommandContext(ctx, install, "--no-defaults", "--datadir="+filepath.Join(dir, "data"), "--user="+me,
		"--auth-root-authentication-method=normal", "--skip-test-db").CombinedOutput(); err != nil {
		return nil, fmt.Errorf("mariadb-install-db: %v\n%s", err, out)
	}
	s := &SQLServer{Driver: "mysql", dir: dir, DSN: fmt.Sprintf("root@tcp(127.0.0.1:%d)/events?parseTime=true", port),
		cmd: exec.Command("/usr/sbin/mariadbd", "--no-defaults", "--datadir="+filepath.Join(dir, "data"), "--user="+me,
			"--bind-address=127.0.0.1", "--port="+strconv.Itoa(port), "--socket="+filepath.Join(dir, "sock"),
			"--skip-name-resolve", "--log-error="+filepath.Join(dir, "err.log"), "--pid-file="+filepath.Join(dir, "pid"))}
	return s, s.start(ctx, fmt.Sprintf("root@tcp(127.0.0.1:%d)/", port), "CREATE DATABASE events CHARACTER SET utf8mb4")
}

// StartPostgres runs Debian's PostgreSQL on a free port, trusting local
// connections of user eventide, and creates database events. initdb
// refuses to run as root: as root, the server runs as the postgres user
// the package creates, in a folder it owns.
func StartPostgres(ctx context.Context) (*SQLServer, error) {
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(bins) == 0 {
		return nil, fmt.Errorf("PostgreSQL not found in /usr/lib/postgresql: run `make tools` (hack/build-tools.sh), which `make test` does")
	}
	bin := filepath.Dir(bins[len(bins)-1])
	var cred *syscall.Credential
	parent := "" // $TMPDIR
	if os.Getuid() == 0 {
		parent = "/tmp" // $TMPDIR may be root's alone; the postgres user must reach its folder
	}
	dir, err := os.MkdirTemp(parent, "eventide-postgres-")
	if err != nil {
		return nil, err
	}
	if os.Getuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("running as root, PostgreSQL needs the postgres user (its package creates it): %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(dir, uid, gid); err != nil {
			return nil, err
		}
	}
	as := func(c *exec.Cmd) *exec.Cmd {
		c.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		c.Dir = dir
		return c
	}
	data := filepath.Join(dir, "data")
	if out, err := as(exec.CommandContext(ctx, filepath.Join(bin, "initdb"), "-D", data, "-U", "eventide", "--auth=trust", "-E", "UTF8")).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("initdb: %v\n%s", err, out)
	}
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	s := &SQLServer{Driver: "postgres", dir: dir, DSN: fmt.Sprintf("postgres://eventide@127.0.0.1:%d/events?sslmode=disable", port),
		cmd: as(exec.Command(filepath.Join(bin, "postgres"), "-D", data, "-h", "127.0.0.1", "-p", strconv.Itoa(port), "-k", dir, "-F"))}
	return s, s.start(ctx, fmt.Sprintf("postgres://eventide@127.0.0.1:%d/postgres?sslmode=disable", port), "CREATE DATABASE events")
}

// start runs the server and, once admin connects, runs create.
func (s *SQLServer) start(ctx context.Context, admin, create string) error {
	logs := &SyncBuffer{}
	s.cmd.Stdout, s.cmd.Stderr = logs, logs
	if err := s.cmd.Start(); err != nil {
		return err
	}
	driver := s.Driver
	if driver == "postgres" {
		driver = "pgx"
	}
	db, err := sql.Open(driver, admin)
	if err != nil {
		s.Stop()
		return err
	}
	defer db.Close()
	wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := PollUntil(wctx, 50*time.Millisecond, func() bool { return db.PingContext(wctx) == nil }); err != nil {
		s.Stop()
		return fmt.Errorf("%s did not accept connections: %v\n%s", s.Driver, err, logs)
	}
	if _, err := db.ExecContext(ctx, create); err != nil {
		s.Stop()
		return err
	}
	return nil
}

// Open connects to database events.
func (s *SQLServer) Open() (*sql.DB, error) {
	if s.Driver == "postgres" {
		return sql.Open("pgx", s.DSN)
	}
	return sql.Open("mysql", s.DSN)
}

// Stop ends the server and removes its data.
func (s *SQLServer) Stop() {
	StopCmd(s.cmd)
	os.RemoveAll(s.dir)
}
