package kube

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// configMapStore reads and writes the data of one ConfigMap in eventide's
// namespace that eventide (the leader) alone writes: checkpoints, group
// state.
type configMapStore struct {
	cs                         kubernetes.Interface
	namespace, name, component string
	exists                     bool   // the ConfigMap is there: write updates it
	uid                        string // of the ConfigMap last read or written; "" when unknown
}

func newConfigMapStore(cfg *rest.Config, namespace, name, component string) (*configMapStore, error) {
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	return &configMapStore{cs: cs, namespace: namespace, name: name, component: component}, nil
}

func (s *configMapStore) String() string { return s.namespace + "/" + s.name }

// read is the ConfigMap's data; nil when there is none.
func (s *configMapStore) read(ctx context.Context) (map[string]string, error) {
	cm, err := s.cs.CoreV1().ConfigMaps(s.namespace).Get(ctx, s.name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s, err)
	}
	s.exists, s.uid = true, string(cm.UID)
	return cm.Data, nil
}

// write replaces the data: one request, creating the ConfigMap the first
// time. Without a resourceVersion: eventide (the leader) is the only
// writer. A ConfigMap deleted meanwhile is made again.
func (s *configMapStore) write(ctx context.Context, data map[string]string) error {
	cm := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: s.name, Namespace: s.namespace,
			Labels: map[string]string{"app.kubernetes.io/name": "eventide", "app.kubernetes.io/component": s.component}},
		Data: data,
	}
	var (
		got *corev1.ConfigMap
		err error
	)
	if s.exists {
		got, err = s.cs.CoreV1().ConfigMaps(s.namespace).Update(ctx, cm, metav1.UpdateOptions{})
		s.exists = !apierrors.IsNotFound(err)
	}
	if !s.exists {
		got, err = s.cs.CoreV1().ConfigMaps(s.namespace).Create(ctx, cm, metav1.CreateOptions{})
		s.exists = err == nil || apierrors.IsAlreadyExists(err)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", s, err)
	}
	s.uid = string(got.UID)
	return nil
}

// UID is the ConfigMap's uid as last read or written: another uid means
// another object (deleted and made again, or another cluster's); "" when
// eventide has not seen it yet.
func (s *configMapStore) UID() string { return s.uid }
