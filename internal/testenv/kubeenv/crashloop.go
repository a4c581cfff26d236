package kubeenv

import (
	"context"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// CrashLoop makes the events of a crash-looping pod for d, as kubelet
// does: one BackOff event whose count rises every second, and a readiness
// probe (Unhealthy) failing twice a second. mid, when set, runs once
// halfway. It returns the last version of both events and how many
// occurrences it made.
func (c *Cluster) CrashLoop(ctx context.Context, pod *corev1.Pod, d time.Duration, mid func()) (backoff, probe *corev1.Event, occurrences int, err error) {
	create := func(name, reason, msg string) (*corev1.Event, error) {
		return c.CS.CoreV1().Events(pod.Namespace).Create(ctx, PodEvent(pod, name, "Warning", reason, msg), metav1.CreateOptions{})
	}
	if backoff, err = create(pod.Name+".backoff", "BackOff", "Back-off restarting failed container"); err != nil {
		return nil, nil, 0, err
	}
	if probe, err = create(pod.Name+".probe", "Unhealthy", "Readiness probe failed"); err != nil {
		return nil, nil, 0, err
	}
	occurrences = 2
	start := time.Now()
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for i := 1; time.Since(start) < d; i++ {
		select {
		case <-tick.C:
		case <-ctx.Done():
			return backoff, probe, occurrences, ctx.Err()
		}
		if probe, err = c.Repeat(ctx, probe); err != nil {
			return backoff, probe, occurrences, err
		}
		occurrences++
		if i%2 == 0 {
			if backoff, err = c.Repeat(ctx, backoff); err != nil {
				return backoff, probe, occurrences, err
			}
			occurrences++
		}
		if mid != nil && time.Since(start) > d/2 {
			mid()
			mid = nil
		}
	}
	return backoff, probe, occurrences, nil
}
