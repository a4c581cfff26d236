package exporter

import (
	"context"
	"testing"

	"github.com/rs/zerolog"

	"github.com/eventide/eventide/internal/testenv/testevent"
	"github.com/eventide/eventide/pkg/exporter/config"
	"github.com/eventide/eventide/pkg/exporter/route"
	"github.com/eventide/eventide/pkg/sinks"
)

var (
	testReceivers = []string{"a", "b", "c"}
	testEvent     = testevent.Pod
)

// mustTree compiles cfg over testReceivers.
func mustTree(t *testing.T, cfg route.Config) *route.Tree {
	t.Helper()
	tree, errs := route.Compile(&cfg, testReceivers)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	return tree
}

// testLoadOptions loads with env as the whole environment.
func testLoadOptions(env map[string]string) config.LoadOptions {
	return config.LoadOptions{
		Deps: sinks.Deps{Ctx: context.Background(), Log: zerolog.Nop()},
		LookupEnv: func(k string) (string, bool) {
			v, ok := env[k]
			return v, ok
		},
	}
}
