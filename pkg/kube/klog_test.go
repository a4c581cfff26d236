package kube

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/go-logr/logr"
	"github.com/rs/zerolog"

	"github.com/eventide/eventide/internal/testenv"
)

// client-go's klog lines come out as JSON lines of eventide's own stream.
func TestKlogGoesThroughZerolog(t *testing.T) {
	defer zerolog.SetGlobalLevel(zerolog.GlobalLevel())
	zerolog.SetGlobalLevel(zerolog.InfoLevel)
	var buf testenv.SyncBuffer
	l := zerolog.New(&buf).With().Str("component", "client-go").Logger()
	klogTarget.Store(&l) // as RouteKlog does; klog.SetLogger itself may race with other tests' informers
	log := logr.New(&klogSink{})
	log.Error(errors.New("401 Unauthorized"), "failed to list", "resource", "events")
	log.V(4).Info("chatter")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	var got map[string]any
	if len(lines) != 1 || json.Unmarshal([]byte(lines[0]), &got) != nil {
		t.Fatalf("want one JSON line (V(4) is trace, below the global level), got %q", buf.String())
	}
	if got["level"] != "error" || got["message"] != "failed to list" || got["resource"] != "events" || got["component"] != "client-go" {
		t.Errorf("line %v", got)
	}
}
