// Package cli is eventide's command line: one file per subcommand (serve,
// validate), each returning the process's exit status.
package cli

import (
	"flag"
	"fmt"
	"io"
)

// Exit statuses.
const (
	ExitOK     = 0
	ExitFailed = 1 // the config is invalid, or eventide stopped on an error
	ExitUsage  = 2 // bad flags or arguments
)

// Run dispatches args (without the program name) to a subcommand; no
// subcommand runs eventide (serve).
func Run(args []string, stdout, stderr io.Writer, version string) int {
	if len(args) > 0 {
		switch args[0] {
		case "validate":
			return Validate(args[1:], stdout, stderr)
		case "version":
			fmt.Fprintln(stdout, "eventide", version)
			return ExitOK
		case "serve":
			args = args[1:]
		}
	}
	return Serve(args, stdout, stderr, version)
}

// parse parses args into fs, refusing positional arguments.
func parse(fs *flag.FlagSet, args []string, stderr io.Writer) error {
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		err := fmt.Errorf("unexpected arguments: %v", fs.Args())
		fmt.Fprintln(stderr, err)
		return err
	}
	return nil
}

// configFlags adds -conf and its alias --config.
func configFlags(fs *flag.FlagSet, conf *string) {
	fs.StringVar(conf, "conf", "config.yaml", "path to the configuration file")
	fs.StringVar(conf, "config", "config.yaml", "alias of -conf")
}
