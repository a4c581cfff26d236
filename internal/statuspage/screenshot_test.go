package statuspage

import (
	"bytes"
	"context"
	"flag"
	"image/png"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/eventide/eventide/internal/testenv"
)

// screenshots, when set, is where TestScreenshots writes the PNGs README
// shows (make screenshots).
var screenshots = flag.String("screenshots", "", "write the status page's screenshots into this folder")

// chromium is Debian's headless shell (hack/build-tools.sh installs it).
const chromium = "/usr/bin/chromium-headless-shell"

// TestScreenshots renders the overview and /events of the fixture in a
// real browser engine: the page must lay out to a non-blank picture with
// no script and no asset from elsewhere (Chromium runs with its network
// features off; the CSP forbids the rest).
func TestScreenshots(t *testing.T) {
	testenv.Outside(t, "Chromium")
	if _, err := os.Stat(chromium); err != nil {
		t.Skipf("%s is missing (hack/build-tools.sh installs chromium-headless-shell): screenshots not taken", chromium)
	}
	l, _, secrets, rates := pagesFixture(t)
	srv := httptest.NewServer(Handler(Options{Engine: l, Recent: l.ring, Secrets: secrets, Version: "v0.3.0",
		Rates:       rates,
		ConfigState: func() ConfigState { return ConfigState{Path: "/etc/eventide/config.yaml"} }}))
	defer srv.Close()
	dir := *screenshots
	if dir == "" {
		dir = t.TempDir()
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, page := range []struct{ path, file string }{{"/?refresh=0", "status-overview.png"}, {"/events?refresh=0", "status-events.png"}} {
		out := filepath.Join(dir, page.file)
		shoot(t, srv.URL+page.path, out)
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%s: %v", page.file, err)
		}
		colours := map[uint32]bool{}
		bounds := img.Bounds()
		for y := bounds.Min.Y; y < bounds.Max.Y; y += 4 {
			for x := bounds.Min.X; x < bounds.Max.X; x += 4 {
				r, g, b, _ := img.At(x, y).RGBA()
				colours[r>>8<<16|g>>8<<8|b>>8] = true
			}
		}
		if bounds.Dx() != 1280 || len(colours) < 8 {
			t.Errorf("%s: %v, %d colours: not a rendered page", page.file, bounds, len(colours))
		}
	}
}

// shoot has Chromium save url as a PNG at out.
func shoot(t *testing.T, url, out string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, chromium, "--no-sandbox", "--disable-gpu", "--disable-background-networking",
		"--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic", "--hide-scrollbars",
		"--user-data-dir="+t.TempDir(), "--window-size=1280,860", "--screenshot="+out, url)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("chromium: %v\n%s", err, b)
	}
}
