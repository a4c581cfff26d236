package kube

import (
	"context"
	"errors"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

// A group state that cannot be read is a CorruptStateError carrying what
// the ConfigMap held, and KeepAside copies it beside the original.
func TestGroupStoreCorruptStateKeptAside(t *testing.T) {
	for name, data := range map[string]map[string]string{
		"not JSON":       {formatKey: groupsFormat, groupsKey: "{not json"},
		"another format": {formatKey: "9", groupsKey: "{}"},
	} {
		t.Run(name, func(t *testing.T) {
			cs := fake.NewClientset(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "ev", Name: "ev-checkpoint-groups"}, Data: data})
			s := &GroupStore{cm: &configMapStore{cs: cs, namespace: "ev", name: "ev-checkpoint-groups", component: "groups"}}
			ctx := context.Background()
			_, err := s.Load(ctx)
			var corrupt *CorruptStateError
			if !errors.As(err, &corrupt) {
				t.Fatalf("Load = %v, want a CorruptStateError", err)
			}
			aside, err := s.KeepAside(ctx, corrupt.Data, time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC))
			if err != nil || aside != "ev/ev-checkpoint-groups-corrupt-20261202-100000" {
				t.Fatalf("KeepAside = %q, %v", aside, err)
			}
			cm, err := cs.CoreV1().ConfigMaps("ev").Get(ctx, "ev-checkpoint-groups-corrupt-20261202-100000", metav1.GetOptions{})
			if err != nil || cm.Data[groupsKey] != data[groupsKey] {
				t.Fatalf("kept-aside copy %v, %v; want the original data", cm, err)
			}
		})
	}
}
