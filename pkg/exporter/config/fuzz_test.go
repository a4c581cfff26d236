package config

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzLoad: no input crashes the loader; it loads or returns a ConfigError.
func FuzzLoad(f *testing.F) {
	for _, dir := range []string{"testdata/valid", "testdata/invalid"} {
		files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
		for _, file := range files {
			if b, err := os.ReadFile(file); err == nil {
				f.Add(b)
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		l, err := Load(data, testLoadOptions(map[string]string{"WEBHOOK_KEY": "k", "SLACK_TOKEN": "t"}))
		if err == nil {
			l.Close()
		}
	})
}
