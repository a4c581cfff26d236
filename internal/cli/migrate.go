package cli

import (
	"context"
	"fmt"
	"io"
)

// Migrate turns another tool's settings into an eventide route file,
// printed on stdout; what it cannot translate goes to stderr.
//
//	eventide migrate eventarbiter [its flags]
//	eventide migrate kube-eventer [its flags]
func Migrate(_ context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "usage: eventide migrate eventarbiter|kube-eventer [its flags, as in its Deployment]")
		return ExitUsage
	}
	switch args[0] {
	case "eventarbiter":
		return migrateEventarbiter(args[1:], stdout, stderr)
	case "kube-eventer":
		return migrateKubeEventer(args[1:], stdout, stderr)
	}
	fmt.Fprintf(stderr, "eventide migrate: unknown tool %q (known: eventarbiter, kube-eventer)\n", args[0])
	return ExitUsage
}
