package memtrim

import (
	"os"
	"syscall"
)

// Release drops this process's mappings of its executable's clean
// read-only pages (see the package comment). It returns how many bytes of
// address space it advised; an error leaves the process as it was.
func Release() (int, error) {
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return 0, err
	}
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		return 0, err
	}
	spans, err := releasable(f, exe)
	f.Close()
	if err != nil {
		return 0, err
	}
	n := 0
	for _, s := range spans {
		size := s.end - s.start
		if _, _, errno := syscall.Syscall(syscall.SYS_MADVISE, s.start, size, syscall.MADV_DONTNEED); errno != 0 {
			return n, errno
		}
		n += int(size)
	}
	return n, nil
}
