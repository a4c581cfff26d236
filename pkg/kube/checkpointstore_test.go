package kube

import (
	"reflect"
	"strings"
	"testing"
)

// What eventide wrote before the format key (version 0) still loads, the
// current format loads, and a format from another version is refused.
func TestDecodeCheckpointFormats(t *testing.T) {
	want := Checkpoints{"slack": {"*": 1041}, "team/ops alerts": {"a": 7, "b": 9}}
	for name, data := range map[string]map[string]string{
		"version 0": {"checkpoints.json": `{"slack":{"*":1041},"team/ops alerts":{"a":7,"b":9}}`},
		"version 1": {"format": "1", "checkpoints.json": `{"slack":{"*":1041},"team/ops alerts":{"a":7,"b":9}}`},
	} {
		got, err := decodeCheckpoints(data)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("%s: %v %v, want %v", name, got, err, want)
		}
	}
	if _, err := decodeCheckpoints(map[string]string{"format": "2", "checkpoints.json": "{}"}); err == nil || !strings.Contains(err.Error(), "another eventide version") {
		t.Errorf("format 2: %v", err)
	}
	if got, err := decodeCheckpoints(nil); err != nil || len(got) != 0 {
		t.Errorf("empty ConfigMap: %v %v", got, err)
	}
}
