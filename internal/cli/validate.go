package cli

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/rs/zerolog"

	"github.com/eventide/eventide/pkg/exporter/config"
	"github.com/eventide/eventide/pkg/sinks"
)

// Validate checks a configuration offline: no cluster, no network.
//
//	eventide validate [-conf] config.yaml
func Validate(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var conf string
	fs := flag.NewFlagSet("eventide validate", flag.ContinueOnError)
	configFlags(fs, &conf)
	if err := parse(fs, args, &conf, stdout, stderr); err != nil {
		return exitFor(err)
	}
	// What receivers warn about while they are built (TLS verification
	// off, say) is shown too, as warning lines.
	warn := zerolog.New(zerolog.ConsoleWriter{Out: stderr, NoColor: true, PartsExclude: []string{zerolog.TimestampFieldName},
		FormatLevel: func(any) string { return conf + ": warning:" }}).Level(zerolog.WarnLevel)
	loaded, err := config.LoadFile(conf, config.LoadOptions{
		Deps:              sinks.Deps{Ctx: ctx, Log: warn, Stdout: io.Discard},
		UnsetEnvIsWarning: true,
	})
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", conf, err)
		return ExitFailed
	}
	defer loaded.Close()
	for _, w := range loaded.Warnings {
		fmt.Fprintf(stderr, "%s: warning: %s\n", conf, w)
	}
	fmt.Fprintf(stdout, "%s: valid (%d receivers, %d routes)\n", conf, len(loaded.Receivers), len(loaded.Tree.Routes()))
	return ExitOK
}
