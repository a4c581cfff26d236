//go:build race

package route

// raceEnabled: the race detector allocates, so allocation counts are off.
const raceEnabled = true
