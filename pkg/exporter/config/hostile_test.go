package config

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// hostileMaxRSS bounds the memory of loading any hostile file, measured on
// a child process (this test binary, maybe under -race, which multiplies
// memory). Before the limits, an alias bomb used 2.9 GB.
const hostileMaxRSS = 400 << 20

// Each file under testdata/hostile (alias bombs, oversized layouts and
// route lists, template recursion, a path-like receiver name) is refused
// with the "# want:" message, in a child process, within a generous
// deadline (the test fails only on a hang) and bounded memory.
func TestHostileConfigs(t *testing.T) {
	if path := os.Getenv("EVENTIDE_HOSTILE_CONFIG"); path != "" {
		_, err := LoadFile(path, testLoadOptions(nil))
		if err == nil {
			os.Stdout.WriteString("accepted")
			os.Exit(0)
		}
		os.Stdout.WriteString(err.Error())
		os.Exit(0)
	}
	eachTestdata(t, "testdata/hostile/*.yaml", func(t *testing.T, file string, b []byte) {
		ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestHostileConfigs$")
		cmd.Env = append(os.Environ(), "EVENTIDE_HOSTILE_CONFIG="+file)
		out, err := cmd.Output()
		if ctx.Err() != nil {
			t.Fatalf("loading did not finish within 60s")
		}
		if err != nil {
			t.Fatalf("child: %v", err)
		}
		wants, _ := expectations(b)
		for _, want := range wants {
			if !strings.Contains(string(out), want) {
				t.Errorf("error does not say %q: %s", want, out)
			}
		}
		if rss := cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss << 10; rss > hostileMaxRSS {
			t.Errorf("peak RSS %d MB, bound %d MB", rss>>20, hostileMaxRSS>>20)
		} else {
			t.Logf("peak RSS %d MB", rss>>20)
		}
	})
}
