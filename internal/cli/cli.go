// Package cli is eventide's command line: one file per subcommand
// (serve.go, validate.go, routetest.go, replay.go, migrate.go and a file
// per tool it translates from, with offline.go: a
// configuration loaded without a cluster), each returning the process's
// exit status; reloadtriggers.go is when serve reloads (the file changed,
// SIGHUP, POST /-/reload), internal/redact what previews and the status page may show.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/eventide/eventide/internal/buildinfo"
)

// Exit statuses.
const (
	ExitOK     = 0
	ExitFailed = 1 // the config is invalid, or eventide stopped on an error
	ExitUsage  = 2 // bad flags or arguments
)

const usage = `eventide routes Kubernetes Events to receivers (Slack, Opsgenie, webhooks, …).

Usage:
  eventide [flags] [CONFIG]            run (CONFIG is -conf's value)
  eventide validate [-conf] CONFIG     check a configuration offline, every error with its path
  eventide route-test -conf CONFIG [-events FILE] [-render] [-expect a,b]
                                       where recorded events go (receivers, routes), offline
  eventide replay -conf CONFIG -events FILE [-dry-run]
                                       send recorded events (or dead letters) through the receivers
  eventide migrate eventarbiter [ITS FLAGS]
                                       print the route file that does what eventarbiter did
  eventide version                     print the version, revision, build date and Go version
  eventide help                        this text

Flags of eventide itself:
`

// Run dispatches args (without the program name) to a subcommand; no
// subcommand runs eventide (serve).
func Run(ctx context.Context, args []string, stdout, stderr io.Writer, version string) int {
	if len(args) > 0 {
		switch args[0] {
		case "validate":
			return Validate(ctx, args[1:], stdout, stderr)
		case "route-test":
			return RouteTest(ctx, args[1:], os.Stdin, stdout, stderr)
		case "replay":
			return Replay(ctx, args[1:], os.Stdin, stdout, stderr)
		case "migrate":
			return Migrate(ctx, args[1:], stdout, stderr)
		case "version", "--version", "-version":
			fmt.Fprint(stdout, buildinfo.Read(version))
			return ExitOK
		case "help", "-h", "-help", "--help":
			fmt.Fprint(stdout, usage)
			fs := serveFlags(&ServeFlags{})
			fs.SetOutput(stdout)
			fs.PrintDefaults()
			return ExitOK
		case "serve":
			args = args[1:]
		default:
			if a := args[0]; !strings.HasPrefix(a, "-") && !looksLikeConfig(a) {
				fmt.Fprintf(stderr, "eventide: unknown command %q (commands: validate, route-test, replay, migrate, version, help; a config file is given as -conf FILE)\n", a)
				return ExitUsage
			}
		}
	}
	return Serve(ctx, args, stdout, stderr, version)
}

// looksLikeConfig tells a config path given as the positional argument
// from a mistyped subcommand.
func looksLikeConfig(arg string) bool {
	if _, err := os.Stat(arg); err == nil {
		return true
	}
	return strings.ContainsRune(arg, os.PathSeparator) || strings.HasSuffix(arg, ".yaml") || strings.HasSuffix(arg, ".yml")
}

// parse parses args into fs; one positional argument is the config file,
// as promtool and amtool take it. Every mistake is printed.
func parse(fs *flag.FlagSet, args []string, conf *string, stdout, stderr io.Writer) error {
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage of %s:\n", fs.Name())
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(stdout)
			fs.Usage()
		}
		return err
	}
	switch {
	case fs.NArg() == 1 && !flagSet(fs, "conf") && !flagSet(fs, "config"):
		*conf = fs.Arg(0)
	case fs.NArg() > 0:
		err := fmt.Errorf("unexpected arguments %v: give the config as -conf FILE or as the only argument", fs.Args())
		fmt.Fprintf(stderr, "%s: %v\n", fs.Name(), err)
		return err
	}
	return nil
}

func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// exitFor is the status of a parse error: 0 for -h, else usage.
func exitFor(err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return ExitOK
	}
	return ExitUsage
}

// configFlags adds -conf and its alias --config.
func configFlags(fs *flag.FlagSet, conf *string) {
	fs.StringVar(conf, "conf", "config.yaml", "path to the configuration file")
	fs.StringVar(conf, "config", "config.yaml", "alias of -conf")
}
