package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// Tool finds a packaging tool the chart and image tests use (helm,
// buildah): first in the cache hack/build-tools.sh fills, then on PATH. The
// error says how to get it; tests skip with it, since `make test` installs
// both.
func Tool(name string) (string, error) {
	p := filepath.Join(CacheDir(), "bin", name)
	if _, err := os.Stat(p); err == nil {
		return p, nil
	}
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("%s not found (in %s or on PATH): run `make tools` (hack/build-tools.sh), which `make test` does", name, filepath.Dir(p))
}
