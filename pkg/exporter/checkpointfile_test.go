package exporter

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/eventide/eventide/pkg/kube"
)

// The local mirror round-trips, ignores a file of another ConfigMap, and
// merging takes the later checkpoint of each receiver and stream.
func TestCheckpointFile(t *testing.T) {
	dir := t.TempDir()
	f := newCheckpointFile(dir, "ev/ev-checkpoint")
	if got, err := f.load(); err != nil || got != nil {
		t.Fatalf("no file: %v, %v", got, err)
	}
	cps := kube.Checkpoints{"hook": {"": 120}, "slack": {"": 90}}
	if err := f.save(cps); err != nil {
		t.Fatal(err)
	}
	if got, err := f.load(); err != nil || !reflect.DeepEqual(got, cps) {
		t.Fatalf("load = %v, %v; want %v", got, err, cps)
	}
	if got, _ := newCheckpointFile(dir, "ev/other").load(); got != nil {
		t.Errorf("a file mirroring another ConfigMap was read: %v", got)
	}
	if newCheckpointFile("-", "x") != nil {
		t.Error("spool off: a mirror anyway")
	}
	merged := laterOf(kube.Checkpoints{"hook": {"": 100}, "kafka": {"a": 5}}, cps)
	want := kube.Checkpoints{"hook": {"": 120}, "slack": {"": 90}, "kafka": {"a": 5}}
	if !reflect.DeepEqual(merged, want) {
		t.Errorf("laterOf = %v, want %v", merged, want)
	}
	if err := os.WriteFile(filepath.Join(dir, "checkpoints.json"), []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := f.load(); err == nil {
		t.Error("a corrupt file loads without an error")
	}
}
