package kube

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/rest"
)

// Events about a kind whose informer is still filling wait for it only
// until SyncTimeout after it started; after that they go on at once. The
// lookups use a cancelled context, so a lookup that waited would return
// context.Canceled instead of errNotSynced: no clock is read by the test.
func TestSyncWaitIsBoundedPerInformer(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c, err := NewMetadataCache(ctx, &rest.Config{Host: "http://127.0.0.1:1"}, zerolog.Nop(), MetadataCacheOptions{SyncTimeout: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c.now = func() time.Time { return now }
	cancelled, stop := context.WithCancel(context.Background())
	stop()
	gvr := schema.GroupVersionResource{Version: "v1", Resource: "pods"}

	// Within the window: the lookup waits (and so sees its context end).
	if _, err := c.informerFor(cancelled, gvr, "ns"); !errors.Is(err, context.Canceled) {
		t.Fatalf("inside the sync window: %v, want to wait", err)
	}
	// After the window: no more waiting.
	now = now.Add(time.Hour + time.Second)
	if _, err := c.informerFor(cancelled, gvr, "ns"); !errors.Is(err, errNotSynced) {
		t.Fatalf("after the sync window: %v, want errNotSynced at once", err)
	}
}
