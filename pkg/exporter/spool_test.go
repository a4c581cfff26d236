package exporter

import (
	"fmt"
	"path/filepath"
	"testing"
)

func TestSpoolKeepsOrderAcrossSegments(t *testing.T) {
	s, err := newSpool(filepath.Join(t.TempDir(), "r"), 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	s.segBytes = 16 << 10
	ev := testEvent()
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
	s, err := newSpool(filepath.Join(t.TempDir(), "r"), 4000)
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	var dropped []string
	for i := 0; i < 20; i++ {
		e := testEvent()
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
