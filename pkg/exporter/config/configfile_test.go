package config

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
)

// A FIFO at the config path is refused at once instead of blocking the
// reload (and its lock) until somebody writes to it.
func TestReadConfigFileRefusesFIFO(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Skip(err)
	}
	_, err := ReadConfigFile(path)
	if err == nil || !strings.Contains(err.Error(), "named pipe") {
		t.Fatalf("ReadConfigFile(FIFO) = %v, want a refusal naming it", err)
	}
	if _, err := ReadConfigFile(filepath.Dir(path)); err == nil || !strings.Contains(err.Error(), "directory") {
		t.Errorf("ReadConfigFile(directory) = %v", err)
	}
}

// A 200 MB file is refused after reading MaxConfigBytes+1, not read whole.
func TestReadConfigFileStopsPastTheLimit(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.yaml")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(200 << 20); err != nil { // sparse: no disk used
		t.Fatal(err)
	}
	f.Close()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err = ReadConfigFile(path)
	runtime.ReadMemStats(&after)
	if err == nil || !strings.Contains(err.Error(), "MaxConfigBytes") {
		t.Fatalf("ReadConfigFile(200 MB) = %v, want the size refusal", err)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 8*MaxConfigBytes {
		t.Errorf("reading a 200 MB config allocated %d bytes: it was read past the limit", alloc)
	}
	ok := filepath.Join(t.TempDir(), "ok.yaml")
	if err := os.WriteFile(ok, []byte("a: 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if b, err := ReadConfigFile(ok); err != nil || string(b) != "a: 1\n" {
		t.Errorf("ReadConfigFile(regular) = %q, %v", b, err)
	}
}
