package kube

import (
	"sync/atomic"

	"github.com/eventide/eventide/pkg/kube/event"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
)

// storedEvent is all the event informer keeps per Event: its key, its
// resourceVersion and what tells a new occurrence from a no-op update. The
// API server holds up to an hour of events (hundreds of thousands in a busy
// cluster), so the store must not hold whole events.
//
// The informer's transform (toStored) builds it from the decoded Event and
// attaches the whole Event; the handler takes that exactly once (take), so
// the whole Event lives only from the decode to the hand-over. client-go
// applies the transform before the store and the handlers see the object,
// so the handlers get the whole event and the store keeps only this.
type storedEvent struct {
	namespace, name, resourceVersion string
	occurrence                       event.Occurrence
	full                             atomic.Pointer[corev1.Event]
}

// toStored is the event informer's transform.
func toStored(obj any) (any, error) {
	ev, ok := obj.(*corev1.Event)
	if !ok {
		return obj, nil // already transformed, or a DeletedFinalStateUnknown
	}
	s := &storedEvent{namespace: ev.Namespace, name: ev.Name, resourceVersion: ev.ResourceVersion,
		occurrence: event.OccurrenceOf(ev)}
	ev.ManagedFields = nil
	s.full.Store(ev)
	return s, nil
}

// take returns the whole Event the first time it is called, then nil.
func (s *storedEvent) take() *corev1.Event { return s.full.Swap(nil) }

// The rest makes storedEvent a runtime.Object and a metav1.Object, which is
// what the informer's store needs to key it. Only the name, namespace and
// resourceVersion are kept; the other setters drop what they are given.

var _ metav1.Object = (*storedEvent)(nil)

func (s *storedEvent) GetObjectKind() schema.ObjectKind { return schema.EmptyObjectKind }
func (s *storedEvent) DeepCopyObject() runtime.Object {
	return &storedEvent{namespace: s.namespace, name: s.name, resourceVersion: s.resourceVersion, occurrence: s.occurrence}
}
func (s *storedEvent) GetNamespace() string                          { return s.namespace }
func (s *storedEvent) SetNamespace(v string)                         { s.namespace = v }
func (s *storedEvent) GetName() string                               { return s.name }
func (s *storedEvent) SetName(v string)                              { s.name = v }
func (s *storedEvent) GetResourceVersion() string                    { return s.resourceVersion }
func (s *storedEvent) SetResourceVersion(v string)                   { s.resourceVersion = v }
func (s *storedEvent) GetGenerateName() string                       { return "" }
func (s *storedEvent) SetGenerateName(string)                        {}
func (s *storedEvent) GetUID() types.UID                             { return "" }
func (s *storedEvent) SetUID(types.UID)                              {}
func (s *storedEvent) GetGeneration() int64                          { return 0 }
func (s *storedEvent) SetGeneration(int64)                           {}
func (s *storedEvent) GetSelfLink() string                           { return "" }
func (s *storedEvent) SetSelfLink(string)                            {}
func (s *storedEvent) GetCreationTimestamp() metav1.Time             { return metav1.Time{} }
func (s *storedEvent) SetCreationTimestamp(metav1.Time)              {}
func (s *storedEvent) GetDeletionTimestamp() *metav1.Time            { return nil }
func (s *storedEvent) SetDeletionTimestamp(*metav1.Time)             {}
func (s *storedEvent) GetDeletionGracePeriodSeconds() *int64         { return nil }
func (s *storedEvent) SetDeletionGracePeriodSeconds(*int64)          {}
func (s *storedEvent) GetLabels() map[string]string                  { return nil }
func (s *storedEvent) SetLabels(map[string]string)                   {}
func (s *storedEvent) GetAnnotations() map[string]string             { return nil }
func (s *storedEvent) SetAnnotations(map[string]string)              {}
func (s *storedEvent) GetFinalizers() []string                       { return nil }
func (s *storedEvent) SetFinalizers([]string)                        {}
func (s *storedEvent) GetOwnerReferences() []metav1.OwnerReference   { return nil }
func (s *storedEvent) SetOwnerReferences([]metav1.OwnerReference)    {}
func (s *storedEvent) GetManagedFields() []metav1.ManagedFieldsEntry { return nil }
func (s *storedEvent) SetManagedFields([]metav1.ManagedFieldsEntry)  {}
