// Command eventide watches Kubernetes Events, enriches them with the labels
// and owners of the objects they are about, routes them through a tree of
// match/drop rules and delivers them to receivers (webhooks, files, Slack, …).
//
//	eventide -conf config.yaml [-kubeconfig FILE] [-metrics-address :2112]
//	eventide validate -conf config.yaml
//	eventide route-test -conf config.yaml -events events.jsonl
//	eventide replay -conf config.yaml -events dead-letter.jsonl [-dry-run]
//	eventide version
//
// The subcommands live in internal/cli (eventide -h lists them all), the
// engine in pkg/exporter, the receivers in pkg/sinks.
package main

import (
	"context"
	"os"

	"github.com/eventide/eventide/internal/cli"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	os.Exit(cli.Run(context.Background(), os.Args[1:], os.Stdout, os.Stderr, version))
}
