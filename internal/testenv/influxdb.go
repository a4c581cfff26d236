package testenv

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// InfluxDB is Debian's influxd (InfluxDB 1.6, the v1 API) on loopback,
// its data in a folder of the test's.
type InfluxDB struct {
	URL    string
	cmd    *exec.Cmd
	client *http.Client // bounded: a hung influxd fails the test, not the run
}

// StartInfluxDB runs influxd in dir with database db created; the error
// says when it is not installed (make tools installs it).
func StartInfluxDB(ctx context.Context, dir, db string) (*InfluxDB, error) {
	bin, err := exec.LookPath("influxd")
	if err != nil {
		return nil, fmt.Errorf("influxd not found: run `make tools` (hack/build-tools.sh), which `make test` does")
	}
	httpPort, err := FreePort()
	if err != nil {
		return nil, err
	}
	rpcPort, err := FreePort()
	if err != nil {
		return nil, err
	}
	conf := fmt.Sprintf(`reporting-disabled = true
bind-address = "127.0.0.1:%d"
[meta]
  dir = %q
[data]
  dir = %q
  wal-dir = %q
  query-log-enabled = false
[http]
  bind-address = "127.0.0.1:%d"
  log-enabled = false
[monitor]
  store-enabled = false
`, rpcPort, filepath.Join(dir, "meta"), filepath.Join(dir, "data"), filepath.Join(dir, "wal"), httpPort)
	path := filepath.Join(dir, "influxdb.conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		return nil, err
	}
	s := &InfluxDB{URL: fmt.Sprintf("http://127.0.0.1:%d", httpPort), cmd: exec.Command(bin, "run", "-config", path),
		client: &http.Client{Timeout: 10 * time.Second}}
	logs := &SyncBuffer{}
	s.cmd.Stdout, s.cmd.Stderr = logs, logs
	if err := s.cmd.Start(); err != nil {
		return nil, err
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := PollUntil(wctx, 20*time.Millisecond, func() bool {
		resp, err := s.client.Get(s.URL + "/ping")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil && resp.StatusCode == http.StatusNoContent
	}); err != nil {
		s.Stop()
		return nil, fmt.Errorf("influxd did not answer on %s: %v\n%s", s.URL, err, logs)
	}
	if _, err := s.Query("", "CREATE DATABASE "+db); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

// Query runs q in database db and returns the rows of its first series'
// values as column → value maps (all series of the first statement).
func (s *InfluxDB) Query(db, q string) ([]map[string]any, error) {
	resp, err := s.client.PostForm(s.URL+"/query?epoch=ns", url.Values{"db": {db}, "q": {q}})
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var out struct {
		Results []struct {
			Error  string
			Series []struct {
				Columns []string
				Values  [][]any
			}
		}
		Error string
	}
	dec := json.NewDecoder(resp.Body)
	dec.UseNumber()
	if err := dec.Decode(&out); err != nil {
		return nil, err
	}
	var errs []string
	if out.Error != "" {
		errs = append(errs, out.Error)
	}
	var rows []map[string]any
	for _, r := range out.Results {
		if r.Error != "" {
			errs = append(errs, r.Error)
		}
		for _, series := range r.Series {
			for _, v := range series.Values {
				row := map[string]any{}
				for i, c := range series.Columns {
					row[c] = v[i]
				}
				rows = append(rows, row)
			}
		}
	}
	if len(errs) > 0 {
		return rows, fmt.Errorf("influxdb query %q: %s", q, strings.Join(errs, "; "))
	}
	return rows, nil
}

// Write stores line-protocol lines in database db as they are (a test's
// own points, written without eventide).
func (s *InfluxDB) Write(db, lines string) error {
	resp, err := s.client.Post(s.URL+"/write?db="+url.QueryEscape(db), "text/plain", strings.NewReader(lines))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("influxdb write: HTTP %d: %s", resp.StatusCode, b)
	}
	return nil
}

// Stop ends influxd.
func (s *InfluxDB) Stop() { StopCmd(s.cmd) }
