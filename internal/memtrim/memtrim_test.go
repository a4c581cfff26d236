package memtrim

import (
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// smaps of a position-independent build: its relocated read-only data
// (the second r--p mapping) holds private copies and must be kept. The
// code's dirty pages are page cache of a binary just written, not copies.
const smaps = `00400000-02e9c000 r-xp 00000000 fe:00 10185201                           /opt/eventide
Size:              44656 kB
Rss:               25564 kB
Private_Dirty:      1288 kB
Anonymous:             0 kB
Swap:                  0 kB
02e9c000-05dac000 r--p 02a9c000 fe:00 10185201                           /opt/eventide
Rss:               32096 kB
Private_Dirty:       120 kB
Anonymous:           120 kB
05dac000-05e5a000 rw-p 059ab000 fe:00 10185201                           /opt/eventide
Rss:                 600 kB
Private_Dirty:         0 kB
06000000-06100000 r--p 00000000 fe:00 42                                 /usr/lib/other.so
Rss:                 100 kB
Private_Dirty:         0 kB
7ffd0000-7ffd1000 r--p 00000000 00:00 0 
Rss:                   4 kB
`

func TestReleasableKeepsWritablePrivateAndOtherFiles(t *testing.T) {
	got, err := releasable(strings.NewReader(smaps), "/opt/eventide")
	if err != nil {
		t.Fatal(err)
	}
	want := []span{{0x400000, 0x2e9c000}}
	if len(got) != 1 || got[0] != want[0] {
		t.Fatalf("releasable = %#x, want only the clean code mapping %#x", got, want)
	}
}

func rssFileKB(t *testing.T) int {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skip("no /proc:", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "RssFile:"); ok {
			n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Skip("no RssFile in /proc/self/status")
	return 0
}

// The test binary's own start-up pages go, and it goes on running (the
// code it needs comes back on access).
func TestReleaseDropsFilePagesAndCodeStillRuns(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("Linux only")
	}
	before := rssFileKB(t)
	n, err := Release()
	if err != nil {
		t.Fatal(err)
	}
	after := rssFileKB(t)
	if n == 0 || after >= before {
		t.Fatalf("released %d bytes of mappings; RssFile %d kB -> %d kB", n, before, after)
	}
	if s := strings.Repeat("ok", 3); s != "okokok" { // code and data read after the release
		t.Fatal(s)
	}
	t.Logf("released %d MB of mappings; RssFile %d kB -> %d kB", n>>20, before, after)
}
