package testenv

import (
	"fmt"
	"os"
	"path/filepath"
)

// MountedConfig is a config file laid out the way kubelet mounts a
// ConfigMap key: Dir/config.yaml -> ..data/config.yaml, and ..data -> a
// timestamped folder holding the content.
type MountedConfig struct {
	Dir string
	gen int
}

// NewMountedConfig mounts content in dir.
func NewMountedConfig(dir, content string) (*MountedConfig, error) {
	m := &MountedConfig{Dir: dir}
	if err := m.Update(content); err != nil {
		return nil, err
	}
	if err := os.Symlink(filepath.Join("..data", "config.yaml"), m.Path()); err != nil {
		return nil, err
	}
	return m, nil
}

// Path is the config file eventide is given.
func (m *MountedConfig) Path() string { return filepath.Join(m.Dir, "config.yaml") }

// Update changes the content as kubelet does: a new timestamped folder,
// a new link to it, renamed over ..data in one step, then the old folder
// removed.
func (m *MountedConfig) Update(content string) error {
	m.gen++
	folder := fmt.Sprintf("..2026_11_29_00_00_00.%09d", m.gen)
	if err := os.Mkdir(filepath.Join(m.Dir, folder), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(m.Dir, folder, "config.yaml"), []byte(content), 0o644); err != nil {
		return err
	}
	tmp := filepath.Join(m.Dir, "..data_tmp")
	if err := os.Symlink(folder, tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Join(m.Dir, "..data")); err != nil {
		return err
	}
	if m.gen > 1 {
		return os.RemoveAll(filepath.Join(m.Dir, fmt.Sprintf("..2026_11_29_00_00_00.%09d", m.gen-1)))
	}
	return nil
}
