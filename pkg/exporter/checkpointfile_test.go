package exporter

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/eventide/eventide/pkg/kube"
)

// The local mirror round-trips, ignores a file of another ConfigMap or of
// another object of the same name (a rebuilt cluster: its
// resourceVersions belong to another etcd), is not written before the
// ConfigMap's uid is known, and merging takes the later checkpoint of each
// receiver and stream.
func TestCheckpointFile(t *testing.T) {
	dir := t.TempDir()
	f := newCheckpointFile(dir, "ev/ev-checkpoint")
	if got, err := f.load(""); err != nil || got != nil {
		t.Fatalf("no file: %v, %v", got, err)
	}
	cps := kube.Checkpoints{"hook": {"": 120}, "slack": {"": 90}}
	if err := f.save(cps, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "checkpoints.json")); !os.IsNotExist(err) {
		t.Fatalf("written before the ConfigMap's uid was known: %v", err)
	}
	if err := f.save(cps, "uid-1"); err != nil {
		t.Fatal(err)
	}
	if got, err := f.load("uid-1"); err != nil || !reflect.DeepEqual(got, cps) {
		t.Fatalf("load = %v, %v; want %v", got, err, cps)
	}
	for _, uid := range []string{"", "uid-2"} {
		if got, _ := f.load(uid); got != nil {
			t.Errorf("a file of ConfigMap uid-1 was read for uid %q: %v", uid, got)
		}
	}
	if got, _ := newCheckpointFile(dir, "ev/other").load("uid-1"); got != nil {
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
	if _, err := f.load("uid-1"); err == nil {
		t.Error("a corrupt file loads without an error")
	}
}
