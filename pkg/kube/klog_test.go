package kube

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/rs/zerolog"
	"k8s.io/klog/v2"

	"github.com/eventide/eventide/internal/testenv"
)

// client-go's klog lines come out as JSON lines of eventide's own stream.
func TestKlogGoesThroughZerolog(t *testing.T) {
	var buf testenv.SyncBuffer
	RouteKlog(zerolog.New(&buf))
	defer klog.ClearLogger()
	klog.ErrorS(errors.New("401 Unauthorized"), "failed to list", "resource", "events")
	klog.V(4).InfoS("chatter")
	klog.Flush()
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	var got map[string]any
	if len(lines) != 1 || json.Unmarshal([]byte(lines[0]), &got) != nil {
		t.Fatalf("want one JSON line (V(4) is trace, below the default level), got %q", buf.String())
	}
	if got["level"] != "error" || got["message"] != "failed to list" || got["resource"] != "events" || got["component"] != "client-go" {
		t.Errorf("line %v", got)
	}
}
