package config

import (
	"fmt"
	"io"
	"os"
	"syscall"
)

// ReadConfigFile reads the route file at path without ever blocking or
// reading more than MaxConfigBytes+1 bytes: it opens non-blocking (a FIFO
// at the path would otherwise hold a reload, and its lock, for ever),
// refuses anything but a regular file, and stops reading one byte past
// the limit, so a 200 MB file costs 1 MiB, not 200.
func ReadConfigFile(path string) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("read config: %s is a %s, not a regular file", path, fileKind(fi.Mode()))
	}
	b, err := io.ReadAll(io.LimitReader(f, MaxConfigBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	if len(b) > MaxConfigBytes {
		return nil, &ConfigError{Errs: []error{fmt.Errorf("config has more than %d bytes; the limit is %d (MaxConfigBytes): a route file is normally a few KB", MaxConfigBytes, MaxConfigBytes)}}
	}
	return b, nil
}

// fileKind names what a path is for an error message.
func fileKind(m os.FileMode) string {
	switch {
	case m.IsDir():
		return "directory"
	case m&os.ModeNamedPipe != 0:
		return "named pipe (FIFO)"
	case m&os.ModeSocket != 0:
		return "socket"
	case m&os.ModeDevice != 0:
		return "device"
	default:
		return "special file"
	}
}
