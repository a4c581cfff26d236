// Package memtrim hands back to the kernel the pages of eventide's own
// executable that only start-up touched.
//
// Package initialisation (the Kubernetes API types registering with their
// scheme, every receiver SDK building its tables) reads code and read-only
// data spread over most of the binary (95 MB), and the kernel maps each such
// read with its neighbours (fault-around, 64 KiB). Without this, RSS keeps
// some 60 MB of file pages, of which eventide reads about a third again
// (23 MB resident at the end of the scale benchmark after the release). Release drops
// this process's mappings of those pages: they stay in the page cache, and
// a page used again is mapped again on its next access (a minor fault).
//
// Only read-only mappings of the executable with no private copy in them
// are released, so nothing but clean file pages is ever dropped (a
// position-independent build's relocated read-only data is private and is
// kept).
package memtrim

import (
	"bufio"
	"io"
	"strconv"
	"strings"
)

// span is one address range to release.
type span struct{ start, end uintptr }

// releasable reads /proc/self/smaps and returns the mappings of exe that
// are read-only and hold only clean, shared-with-the-file pages.
func releasable(smaps io.Reader, exe string) ([]span, error) {
	var (
		out     []span
		cur     span
		isExe   bool
		private bool
	)
	flush := func() {
		if isExe && !private {
			out = append(out, cur)
		}
		isExe, private = false, false
	}
	sc := bufio.NewScanner(smaps)
	for sc.Scan() {
		line := sc.Text()
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if r, ok := addressRange(f[0]); ok && len(f) >= 5 {
			flush()
			cur = r
			isExe = len(f) >= 6 && f[5] == exe && !strings.Contains(f[1], "w")
			continue
		}
		// Per-mapping counters: an anonymous page (a private copy, swapped
		// or not) means the mapping is not the file's content alone. A
		// dirty page cache page (a binary just written) is still the file.
		switch f[0] {
		case "Anonymous:", "Swap:":
			if len(f) >= 2 && f[1] != "0" {
				private = true
			}
		}
	}
	flush()
	return out, sc.Err()
}

// addressRange parses smaps' "start-end" first field.
func addressRange(s string) (span, bool) {
	lo, hi, ok := strings.Cut(s, "-")
	if !ok {
		return span{}, false
	}
	a, err1 := strconv.ParseUint(lo, 16, 64)
	b, err2 := strconv.ParseUint(hi, 16, 64)
	if err1 != nil || err2 != nil || b <= a {
		return span{}, false
	}
	return span{uintptr(a), uintptr(b)}, true
}
