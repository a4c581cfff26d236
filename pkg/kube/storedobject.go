package kube

import (
	"hash/maphash"
	"runtime"
	"slices"
	"strings"
	"sync"
	"weak"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
)

// storedObject is all a metadata informer keeps per object: what
// enrichment, routing, grouping and templates read (namespace, name, UID,
// labels, annotations, owner references) and the resourceVersion. The
// informer's transform (toStoredObject) builds it from the decoded
// PartialObjectMetadata, which is then garbage: a cluster's pods are the
// largest cache eventide holds, and most of a PartialObjectMetadata is
// what nobody reads (timestamps, finalizers, managedFields, generateName).
//
// Equal label maps, equal annotation maps and equal owner lists are
// shared between objects (the pods of a ReplicaSet carry the same labels
// and owner), and label keys and values, annotation keys and owner
// references' strings are interned. What an object holds is shared:
// read-only.
type storedObject struct {
	namespace, name, resourceVersion string
	uid                              types.UID
	labels, annotations              *sharedMap    // nil: none
	owners                           *sharedOwners // nil: none
}

// sharedMap is a label or annotation map shared by the objects that have
// it, found by its content while one of them is alive.
type sharedMap struct{ m map[string]string }

// annotationFilter keeps the annotation keys it matches; nil keeps all.
type annotationFilter func(key string) bool

// lastApplied is kubectl's copy of the whole object: never kept.
const lastApplied = "kubectl.kubernetes.io/last-applied-configuration"

// toStoredObject is the metadata informers' transform; keep filters the
// annotations (nil: all but last-applied-configuration).
func toStoredObject(obj any, keep annotationFilter) (any, error) {
	m, ok := obj.(*metav1.PartialObjectMetadata)
	if !ok {
		return obj, nil // already transformed, or a DeletedFinalStateUnknown
	}
	return newStoredObject(m, keep), nil
}

func newStoredObject(m *metav1.PartialObjectMetadata, keep annotationFilter) *storedObject {
	o := &storedObject{namespace: interned.string(m.Namespace), name: m.Name, resourceVersion: m.ResourceVersion,
		uid: m.UID, labels: interned.labels(m.Labels), annotations: interned.annotations(m.Annotations, keep),
		owners: interned.ownerList(m.OwnerReferences)}
	return o
}

var boolTrue, boolFalse = true, false

// sharedBool is b as one of two shared pointers.
func sharedBool(b *bool) *bool {
	switch {
	case b == nil:
		return nil
	case *b:
		return &boolTrue
	}
	return &boolFalse
}

// Labels, Annotations and Owners are shared: read-only.
func (o *storedObject) Labels() map[string]string {
	if o.labels == nil {
		return nil
	}
	return o.labels.m
}

func (o *storedObject) Annotations() map[string]string {
	if o.annotations == nil {
		return nil
	}
	return o.annotations.m
}

func (o *storedObject) Owners() []metav1.OwnerReference {
	if o.owners == nil {
		return nil
	}
	return o.owners.refs
}

// interner shares strings, maps and owner lists between the stored
// objects. Maps and owner lists are found by a hash of their content
// (and then compared) while an object holding them is alive: the table
// holds them weakly, and forgets them once collected.
type interner struct {
	mu      sync.Mutex
	strings map[string]string
	maps    map[uint64]weak.Pointer[sharedMap]
	owners  map[uint64]weak.Pointer[sharedOwners]
}

// sharedOwners is an owner reference list shared by the objects that
// have it (the pods of one ReplicaSet).
type sharedOwners struct{ refs []metav1.OwnerReference }

// interned is the process's interner: the objects of every informer
// share it.
var interned = &interner{strings: map[string]string{},
	maps: map[uint64]weak.Pointer[sharedMap]{}, owners: map[uint64]weak.Pointer[sharedOwners]{}}

// maxInternedStrings bounds the string table; past it, it starts afresh
// (strings already shared stay shared).
const maxInternedStrings = 1 << 16

var internSeed = maphash.MakeSeed()

// string returns s's shared copy.
func (t *interner) string(s string) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.stringLocked(s)
}

func (t *interner) stringLocked(s string) string {
	if s == "" {
		return ""
	}
	if c, ok := t.strings[s]; ok {
		return c
	}
	if len(t.strings) >= maxInternedStrings {
		clear(t.strings)
	}
	t.strings[s] = s
	return s
}

// labels shares m: keys and values interned.
func (t *interner) labels(m map[string]string) *sharedMap {
	return t.shareMap(m, nil, true)
}

// annotations shares m's kept entries: keys interned, values not (they
// are often one object's own: an IP, a checksum).
func (t *interner) annotations(m map[string]string, keep annotationFilter) *sharedMap {
	return t.shareMap(m, func(k string) bool { return k != lastApplied && (keep == nil || keep(k)) }, false)
}

func (t *interner) shareMap(m map[string]string, keep func(string) bool, values bool) *sharedMap {
	keys := make([]string, 0, len(m))
	for k := range m {
		if keep == nil || keep(k) {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return nil
	}
	slices.Sort(keys)
	var h maphash.Hash
	h.SetSeed(internSeed)
	for _, k := range keys {
		h.WriteString(k)
		h.WriteByte(0)
		h.WriteString(m[k])
		h.WriteByte(0)
	}
	sum := h.Sum64()
	t.mu.Lock()
	defer t.mu.Unlock()
	wp, seen := t.maps[sum]
	if s := wp.Value(); s != nil && len(s.m) == len(keys) && sameEntries(s.m, m, keys) {
		return s
	}
	s := &sharedMap{m: make(map[string]string, len(keys))}
	for _, k := range keys {
		v := m[k]
		if values {
			v = t.stringLocked(v)
		}
		s.m[t.stringLocked(k)] = v
	}
	if !seen || wp.Value() == nil { // a live map of other content keeps its place
		t.maps[sum] = weak.Make(s)
		runtime.AddCleanup(s, t.forgetMap, sum)
	}
	return s
}

func sameEntries(shared, m map[string]string, keys []string) bool {
	for _, k := range keys {
		if v, ok := shared[k]; !ok || v != m[k] {
			return false
		}
	}
	return true
}

// ownerList shares refs: its strings interned, the list itself shared by
// the objects that have an equal one.
func (t *interner) ownerList(refs []metav1.OwnerReference) *sharedOwners {
	if len(refs) == 0 {
		return nil
	}
	var h maphash.Hash
	h.SetSeed(internSeed)
	for _, r := range refs {
		for _, s := range []string{r.APIVersion, r.Kind, r.Name, string(r.UID)} {
			h.WriteString(s)
			h.WriteByte(0)
		}
		h.WriteByte(boolByte(r.Controller))
		h.WriteByte(boolByte(r.BlockOwnerDeletion))
	}
	sum := h.Sum64()
	t.mu.Lock()
	defer t.mu.Unlock()
	wp, seen := t.owners[sum]
	if s := wp.Value(); s != nil && slices.EqualFunc(s.refs, refs, sameOwner) {
		return s
	}
	s := &sharedOwners{refs: make([]metav1.OwnerReference, len(refs))}
	for i, r := range refs {
		s.refs[i] = metav1.OwnerReference{APIVersion: t.stringLocked(r.APIVersion), Kind: t.stringLocked(r.Kind),
			Name: t.stringLocked(r.Name), UID: types.UID(t.stringLocked(string(r.UID))),
			Controller: sharedBool(r.Controller), BlockOwnerDeletion: sharedBool(r.BlockOwnerDeletion)}
	}
	if !seen || wp.Value() == nil {
		t.owners[sum] = weak.Make(s)
		runtime.AddCleanup(s, t.forgetOwners, sum)
	}
	return s
}

func sameOwner(a, b metav1.OwnerReference) bool {
	return a.APIVersion == b.APIVersion && a.Kind == b.Kind && a.Name == b.Name && a.UID == b.UID &&
		boolByte(a.Controller) == boolByte(b.Controller) && boolByte(a.BlockOwnerDeletion) == boolByte(b.BlockOwnerDeletion)
}

func boolByte(b *bool) byte {
	switch {
	case b == nil:
		return 0
	case *b:
		return 1
	}
	return 2
}

// forgetMap and forgetOwners drop an entry once nothing holds its value.
func (t *interner) forgetMap(sum uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if wp, ok := t.maps[sum]; ok && wp.Value() == nil {
		delete(t.maps, sum)
	}
}

func (t *interner) forgetOwners(sum uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if wp, ok := t.owners[sum]; ok && wp.Value() == nil {
		delete(t.owners, sum)
	}
}

// keepAnnotations is the filter of enrich.annotations: exact keys, and
// prefixes written with a trailing *; nil (keep all) when keys is empty.
func keepAnnotations(keys []string) annotationFilter {
	if len(keys) == 0 {
		return nil
	}
	return func(k string) bool {
		for _, p := range keys {
			if prefix, ok := strings.CutSuffix(p, "*"); ok && strings.HasPrefix(k, prefix) || p == k {
				return true
			}
		}
		return false
	}
}

// The rest makes storedObject a runtime.Object and a metav1.Object, which
// is what the informer's store and indexers need to key it. The setters
// drop what they are given.

var _ metav1.Object = (*storedObject)(nil)

func (o *storedObject) GetObjectKind() schema.ObjectKind { return schema.EmptyObjectKind }
func (o *storedObject) DeepCopyObject() kruntime.Object  { c := *o; return &c }
func (o *storedObject) GetNamespace() string             { return o.namespace }
func (o *storedObject) SetNamespace(v string)            { o.namespace = v }
func (o *storedObject) GetName() string                  { return o.name }
func (o *storedObject) SetName(v string)                 { o.name = v }
func (o *storedObject) GetResourceVersion() string       { return o.resourceVersion }
func (o *storedObject) SetResourceVersion(v string)      { o.resourceVersion = v }
func (o *storedObject) GetUID() types.UID                { return o.uid }
func (o *storedObject) SetUID(v types.UID)               { o.uid = v }
func (o *storedObject) GetLabels() map[string]string     { return o.Labels() }
func (o *storedObject) SetLabels(map[string]string)      {}
func (o *storedObject) GetAnnotations() map[string]string {
	return o.Annotations()
}
func (o *storedObject) SetAnnotations(map[string]string)              {}
func (o *storedObject) GetOwnerReferences() []metav1.OwnerReference   { return o.Owners() }
func (o *storedObject) SetOwnerReferences([]metav1.OwnerReference)    {}
func (o *storedObject) GetGenerateName() string                       { return "" }
func (o *storedObject) SetGenerateName(string)                        {}
func (o *storedObject) GetGeneration() int64                          { return 0 }
func (o *storedObject) SetGeneration(int64)                           {}
func (o *storedObject) GetSelfLink() string                           { return "" }
func (o *storedObject) SetSelfLink(string)                            {}
func (o *storedObject) GetCreationTimestamp() metav1.Time             { return metav1.Time{} }
func (o *storedObject) SetCreationTimestamp(metav1.Time)              {}
func (o *storedObject) GetDeletionTimestamp() *metav1.Time            { return nil }
func (o *storedObject) SetDeletionTimestamp(*metav1.Time)             {}
func (o *storedObject) GetDeletionGracePeriodSeconds() *int64         { return nil }
func (o *storedObject) SetDeletionGracePeriodSeconds(*int64)          {}
func (o *storedObject) GetFinalizers() []string                       { return nil }
func (o *storedObject) SetFinalizers([]string)                        {}
func (o *storedObject) GetManagedFields() []metav1.ManagedFieldsEntry { return nil }
func (o *storedObject) SetManagedFields([]metav1.ManagedFieldsEntry)  {}
