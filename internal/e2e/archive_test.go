package e2e

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/eventide/eventide/internal/testenv"
)

// The S3 archive across a kill -9 in the middle of a batch: every event
// the control plane made is in the bucket's objects (read back,
// decompressed, compared event by event), and a line that repeats repeats
// exactly an (Event UID, count) already there.
func TestArchiveKilledMidBatch(t *testing.T) {
	ns := "e2e-archive"
	w := setupNamespace(t, ns)
	testenv.SetAWSTestEnv(t) // the eventide processes inherit the test credentials
	bucket, err := testenv.NewS3Fake("archive")
	if err != nil {
		t.Fatal(err)
	}
	defer bucket.Close()
	config := fmt.Sprintf(`checkpoint: {name: %s}
spool: {dir: %s}
deadLetter: {path: %s}
namespace: %s
route:
  match:
    - receiver: archive
receivers:
  - name: archive
    s3: {bucket: archive, region: us-east-1, endpoint: '%s', forcePathStyle: true, maxEvents: 40, maxAge: 2s}
    delivery: {initialBackoff: 50ms, maxBackoff: 500ms}
`, checkpointName(t), filepath.Join(t.TempDir(), "spool"), filepath.Join(t.TempDir(), "dead.jsonl"), ns, bucket.URL)
	p, _ := startProcess(t, config, "first")
	s := startStream(t, w.Pods, "archive", 300, 10*time.Millisecond) // 100/s for 3 s
	// Kill once some objects are up and a batch is lingering.
	if err := testenv.PollUntil(waitCtx(t), 20*time.Millisecond, func() bool {
		keys, _, _ := bucket.Objects()
		return len(keys) >= 2
	}); err != nil {
		t.Fatal("no object uploaded")
	}
	if err := p.Cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	startProcess(t, config, "second")
	<-s.done
	type line struct {
		Metadata struct{ Name, Namespace, UID string }
		Count    int
		Reason   string
	}
	var (
		seen  map[string]int // name → lines
		lines int
		bad   []string
	)
	err = testenv.PollUntil(waitCtx(t), 100*time.Millisecond, func() bool {
		keys, objects, err := bucket.Objects()
		if err != nil {
			return false
		}
		seen, lines, bad = map[string]int{}, 0, nil
		occurrence := map[string]string{} // name → uid/count of its first line
		for _, k := range keys {
			for _, l := range strings.Split(strings.TrimSuffix(string(objects[k]), "\n"), "\n") {
				var ev line
				if err := json.Unmarshal([]byte(l), &ev); err != nil || ev.Metadata.Namespace != ns {
					bad = append(bad, l)
					continue
				}
				id := fmt.Sprintf("%s/%d", ev.Metadata.UID, ev.Count)
				if o, ok := occurrence[ev.Metadata.Name]; ok && o != id {
					bad = append(bad, "a repeat that is another occurrence: "+ev.Metadata.Name)
				}
				occurrence[ev.Metadata.Name] = id
				seen[ev.Metadata.Name]++
				lines++
			}
		}
		for _, name := range s.names {
			if seen[name] == 0 {
				return false
			}
		}
		return true
	})
	lost := 0
	for _, name := range s.names {
		if seen[name] == 0 {
			lost++
		}
	}
	if err != nil || lost > 0 || len(bad) > 0 {
		t.Fatalf("%d of %d events not in the archive, bad lines %v", lost, len(s.names), bad)
	}
	t.Logf("kill -9 mid-batch: 0 of %d lost, %d lines (%d repeated, each the same UID and count)", len(s.names), lines, lines-len(s.names))
}
