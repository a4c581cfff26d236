package runtime

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/eventide/eventide/pkg/kube/event"
)

// spoolSegmentBytes is the size at which the spool starts a new file;
// a file is removed once read to its end.
const spoolSegmentBytes = 8 << 20

// spool is a receiver's overflow on disk. When the receiver's memory queue
// is full, events are appended here (length-prefixed JSON records in
// segment files) and read back in order before anything newer. It is not
// replayed after a restart: events still in it are pending in the
// receiver's checkpoint, so the restarted watch lists them again.
// Not safe for concurrent use: the worker's lock guards it.
type spool struct {
	dir      string
	maxBytes int64
	segBytes int64 // a new segment file beyond this

	w      *os.File
	wSeg   int
	wOff   int64
	r      *os.File
	rSeg   int
	rOff   int64
	ends   map[int]int64 // final size of each closed segment
	count  int
	bytes  int64
	header [4]byte
}

// spoolFormat is the first line of a spool folder's FORMAT file. Version 0
// (eventide before it) had no FORMAT file and only *.spool segments.
const spoolFormat = "eventide-spool 1"

// newSpool makes receiver's folder under root afresh (what an earlier run
// left is dropped: see above). Only a folder that is a spool is removed:
// anything else at that path is refused, never deleted.
func newSpool(root, receiver string, maxBytes int64) (*spool, error) {
	dir := filepath.Join(root, spoolDirName(receiver))
	if err := clearSpoolDir(dir); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, spoolDirError(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "FORMAT"), []byte(spoolFormat+"\n"), 0o640); err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	s := &spool{dir: dir, maxBytes: maxBytes, segBytes: spoolSegmentBytes, ends: map[int]int64{}}
	if err := s.openWrite(); err != nil {
		return nil, err
	}
	var err error
	if s.r, err = os.Open(s.segPath(0)); err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	return s, nil
}

func (s *spool) segPath(n int) string { return filepath.Join(s.dir, fmt.Sprintf("%08d.spool", n)) }

func (s *spool) openWrite() error {
	f, err := os.OpenFile(s.segPath(s.wSeg), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o640)
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	s.w, s.wOff = f, 0
	return nil
}

// push appends ev, first dropping the oldest spooled events while it would
// not fit; it returns those it dropped.
func (s *spool) push(ev *event.EnhancedEvent) (dropped []*event.EnhancedEvent, err error) {
	b, err := json.Marshal(ev)
	if err != nil {
		return nil, fmt.Errorf("spool: encode: %w", err)
	}
	need := int64(len(b) + len(s.header))
	for s.count > 0 && s.bytes+need > s.maxBytes {
		old, err := s.pop()
		if err != nil {
			return dropped, err
		}
		dropped = append(dropped, old)
	}
	if s.wOff >= s.segBytes {
		s.ends[s.wSeg] = s.wOff
		if err := s.w.Close(); err != nil {
			return dropped, fmt.Errorf("spool: %w", err)
		}
		s.wSeg++
		if err := s.openWrite(); err != nil {
			return dropped, err
		}
	}
	binary.BigEndian.PutUint32(s.header[:], uint32(len(b)))
	if _, err := s.w.Write(append(s.header[:], b...)); err != nil {
		return dropped, fmt.Errorf("spool: write: %w", err)
	}
	s.wOff += need
	s.count++
	s.bytes += need
	return dropped, nil
}

// pop reads the oldest spooled event.
func (s *spool) pop() (*event.EnhancedEvent, error) {
	if s.count == 0 {
		return nil, io.EOF
	}
	for {
		end, closed := s.ends[s.rSeg]
		if !closed || s.rOff < end {
			break
		}
		// Read to the end of a closed segment: remove it, go to the next.
		_ = s.r.Close()
		_ = os.Remove(s.segPath(s.rSeg))
		delete(s.ends, s.rSeg)
		s.rSeg++
		s.rOff = 0
		var err error
		if s.r, err = os.Open(s.segPath(s.rSeg)); err != nil {
			return nil, fmt.Errorf("spool: %w", err)
		}
	}
	var hdr [4]byte
	if _, err := s.r.ReadAt(hdr[:], s.rOff); err != nil {
		return nil, fmt.Errorf("spool: read: %w", err)
	}
	n := binary.BigEndian.Uint32(hdr[:])
	b := make([]byte, n)
	if _, err := s.r.ReadAt(b, s.rOff+4); err != nil {
		return nil, fmt.Errorf("spool: read: %w", err)
	}
	s.rOff += int64(n) + 4
	s.count--
	s.bytes -= int64(n) + 4
	var ev event.EnhancedEvent
	if err := json.Unmarshal(b, &ev); err != nil {
		return nil, fmt.Errorf("spool: decode: %w", err)
	}
	return &ev, nil
}

func (s *spool) close() {
	_ = s.w.Close()
	_ = s.r.Close()
	_ = os.RemoveAll(s.dir)
}

// clearSpoolDir removes dir if it is a spool folder: one with our FORMAT
// file, or one holding only *.spool segments (version 0). A missing dir is
// fine; anything else is an error and stays as it is.
func clearSpoolDir(dir string) error {
	entries, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return spoolDirError(err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "FORMAT")); err == nil {
		if line, _, _ := strings.Cut(string(b), "\n"); line != spoolFormat {
			return fmt.Errorf("spool: %s holds format %q, not %q: written by another eventide version; remove it", dir, line, spoolFormat)
		}
	} else {
		for _, e := range entries {
			if !e.Type().IsRegular() || !strings.HasSuffix(e.Name(), ".spool") {
				return fmt.Errorf("spool: %s is not a spool folder (it holds %s); refusing to remove it", dir, e.Name())
			}
		}
	}
	if err := os.RemoveAll(dir); err != nil {
		return spoolDirError(err)
	}
	return nil
}

// spoolDirError is a spool folder eventide cannot read or write: it names
// the setting to change.
func spoolDirError(err error) error {
	return fmt.Errorf("spool: %w; set spool.dir to a writable folder (the Helm chart mounts /var/lib/eventide), or \"-\" to keep no spool", err)
}

// spoolDirName is receiver's folder name: the name with every character
// but [A-Za-z0-9_-] replaced by _, then a short hash of the exact name, so
// two names never share a folder and no name leaves the spool root.
func spoolDirName(receiver string) string {
	safe := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			return r
		}
		return '_'
	}, receiver)
	if len(safe) > 64 {
		safe = safe[:64]
	}
	sum := sha256.Sum256([]byte(receiver))
	return safe + "-" + hex.EncodeToString(sum[:4])
}
