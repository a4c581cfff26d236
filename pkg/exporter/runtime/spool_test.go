package runtime

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/eventide/eventide/internal/testenv/testevent"
)

func TestSpoolKeepsOrderAcrossSegments(t *testing.T) {
	s, err := newSpool(t.TempDir(), "r", 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	s.segBytes = 16 << 10
	ev := testevent.Named("x")
	ev.Message = string(make([]byte, 4<<10)) // 4 KiB records: a segment holds ~3
	const n = 400
	for i := 0; i < n; i++ {
		e := *ev
		e.Name = fmt.Sprint(i)
		if dropped, err := s.push(&e); err != nil || len(dropped) > 0 {
			t.Fatal(err, dropped)
		}
		if i%3 == 0 { // interleave reads with writes
			got, err := s.pop()
			if err != nil || got.Name != fmt.Sprint(i/3) {
				t.Fatalf("pop %d: %v %v", i/3, got, err)
			}
		}
	}
	for i := n/3 + 1; i < n; i++ {
		got, err := s.pop()
		if err != nil || got.Name != fmt.Sprint(i) {
			t.Fatalf("pop %d: %v %v", i, got, err)
		}
	}
	if s.count != 0 || s.bytes != 0 {
		t.Errorf("count %d bytes %d after draining", s.count, s.bytes)
	}
	files, _ := filepath.Glob(filepath.Join(s.dir, "*.spool"))
	if len(files) != 1 {
		t.Errorf("read segments not removed: %v", files)
	}
}

func TestSpoolFullDropsOldest(t *testing.T) {
	s, err := newSpool(t.TempDir(), "r", 4000)
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	var dropped []string
	for i := 0; i < 20; i++ {
		e := testevent.Named("x")
		e.Name = fmt.Sprint(i)
		d, err := s.push(e)
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range d {
			dropped = append(dropped, x.Name)
		}
	}
	if len(dropped) == 0 || dropped[0] != "0" || s.bytes > 4000 {
		t.Fatalf("dropped %v, %d bytes", dropped, s.bytes)
	}
	first, _ := s.pop()
	if first.Name != fmt.Sprint(len(dropped)) {
		t.Errorf("oldest kept is %s, want %d", first.Name, len(dropped))
	}
	// Round trip keeps what routes and templates read.
	if first.InvolvedObject.Labels["owner"] != "payments" || first.InvolvedObject.Workload.Name != "web" || first.Reason != "BackOff" {
		t.Errorf("decoded %+v", first)
	}
}

// Receiver names are free-form: each gets its own folder inside the spool
// root, and names that differ only in characters the sanitiser replaces
// never share one.
func TestSpoolFolderPerName(t *testing.T) {
	root := filepath.Join(t.TempDir(), "spool")
	seen := map[string]string{}
	for _, name := range []string{"a/b", "a_b", "a b", "..x", "../..", "é", "slack", "Slack", strings.Repeat("x", 300)} {
		dir := spoolDirName(name)
		if other, dup := seen[dir]; dup {
			t.Errorf("%q and %q share folder %s", name, other, dir)
		}
		seen[dir] = name
		s, err := newSpool(root, name, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		if rel, err := filepath.Rel(root, s.dir); err != nil || strings.Contains(rel, "..") || strings.ContainsRune(rel, filepath.Separator) {
			t.Errorf("%q: folder %s is not directly in the root", name, s.dir)
		}
		s.close()
	}
}

// Start-up clears only spool folders: the version-0 layout that eventide
// wrote before FORMAT files (segments only) is cleared; a folder holding
// anything else, or a spool of another format, is refused and kept.
func TestSpoolStartClearsOnlySpools(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, spoolDirName("r"))
	write := func(name, content string) {
		t.Helper()
		if err := os.MkdirAll(dir, 0o750); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o640); err != nil {
			t.Fatal(err)
		}
	}
	write("00000000.spool", "old records") // what the previous version wrote
	s, err := newSpool(root, "r", 1<<20)
	if err != nil {
		t.Fatalf("version-0 spool refused: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "00000000.spool")); err == nil {
		if b, _ := os.ReadFile(filepath.Join(dir, "00000000.spool")); string(b) == "old records" {
			t.Error("version-0 segment not cleared")
		}
	}
	s.close()

	write("notes.txt", "precious")
	if _, err := newSpool(root, "r", 1<<20); err == nil || !strings.Contains(err.Error(), "not a spool folder") {
		t.Errorf("foreign folder: %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "notes.txt")); err != nil || string(b) != "precious" {
		t.Errorf("foreign file removed: %v", err)
	}
	_ = os.Remove(filepath.Join(dir, "notes.txt"))
	write("FORMAT", "eventide-spool 99\n")
	if _, err := newSpool(root, "r", 1<<20); err == nil || !strings.Contains(err.Error(), "another eventide version") {
		t.Errorf("future format: %v", err)
	}
}

// A folder eventide cannot create (a read-only root filesystem, a file in
// the way) is an error that names the setting to change.
func TestUnwritableDataPathsNameTheirSetting(t *testing.T) {
	blocker := filepath.Join(t.TempDir(), "a-file")
	if err := os.WriteFile(blocker, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := newSpool(blocker, "r", 1<<20); err == nil || !strings.Contains(err.Error(), "set spool.dir") {
		t.Errorf("spool under a file: %v, want an error naming spool.dir", err)
	}
	if _, err := NewDeadLetter(filepath.Join(blocker, "dead.jsonl"), 1); err == nil || !strings.Contains(err.Error(), "set deadLetter.path") {
		t.Errorf("dead letters under a file: %v, want an error naming deadLetter.path", err)
	}
}
