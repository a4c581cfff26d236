//go:build race

package exporter

// raceEnabled: the race detector allocates, so allocation counts are off.
const raceEnabled = true
