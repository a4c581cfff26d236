//go:build !linux

package memtrim

// Release does nothing outside Linux.
func Release() (int, error) { return 0, nil }
