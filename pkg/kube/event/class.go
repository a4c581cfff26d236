package event

import (
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// Event classes: what an event means, from its kind, reason, source and
// message (never its type: Kubernetes reports a Node's NodeNotReady and
// an image-pull back-off as Normal events). README's "Event classes"
// table documents each; class_test.go checks them against the messages
// Kubernetes' own sources produce.
const (
	ClassCrashLoop         = "CrashLoop"         // BackOff "Back-off restarting failed container"
	ClassImagePullBackOff  = "ImagePullBackOff"  // BackOff "Back-off pulling image", Failed "Error: ImagePullBackOff"
	ClassImagePullFailed   = "ImagePullFailed"   // Failed "Failed to pull image", "Error: ErrImagePull", ErrImageNeverPull, InspectFailed
	ClassOOMKilled         = "OOMKilled"         // SystemOOM (kubelet, a node), OOMKilling (node-problem-detector)
	ClassProbeFailed       = "ProbeFailed"       // Unhealthy; detail: liveness, readiness or startup
	ClassUnschedulable     = "Unschedulable"     // FailedScheduling; detail: why no node fits
	ClassEvicted           = "Evicted"           // Evicted (kubelet), TaintManagerEviction / NodeControllerEviction "Marking for deletion"
	ClassNodeNotReady      = "NodeNotReady"      // NodeNotReady on a Node (Normal) or on its pods (Warning)
	ClassNodeRebooted      = "NodeRebooted"      // Rebooted
	ClassKernelHung        = "KernelHung"        // TaskHung, DockerHung (node-problem-detector)
	ClassVolumeMountFailed = "VolumeMountFailed" // FailedMount, FailedAttachVolume, FailedMapVolume
	ClassFailedCreate      = "FailedCreate"      // FailedCreate (controllers: ReplicaSet, Job, StatefulSet, DaemonSet, CronJob)
	ClassPreempted         = "Preempted"         // Preempted (scheduler), Preempting (kubelet)
	ClassNetworkNotReady   = "NetworkNotReady"   // NetworkNotReady
	ClassDNSConfigForming  = "DNSConfigForming"  // DNSConfigForming
	ClassHPAFailed         = "HPAFailed"         // a Failed* reason on a HorizontalPodAutoscaler
	ClassOther             = "Other"
)

// Classes lists every class, for checks and docs.
var Classes = []string{ClassCrashLoop, ClassImagePullBackOff, ClassImagePullFailed, ClassOOMKilled, ClassProbeFailed,
	ClassUnschedulable, ClassEvicted, ClassNodeNotReady, ClassNodeRebooted, ClassKernelHung, ClassVolumeMountFailed,
	ClassFailedCreate, ClassPreempted, ClassNetworkNotReady, ClassDNSConfigForming, ClassHPAFailed, ClassOther}

// ClassAliases are kube-eventer's abnormal-event names (its judge.go and
// metrics.go) that map to a class; a route's `class:` accepts them.
var ClassAliases = map[string][]string{
	"PodCrash":                 {ClassCrashLoop},
	"PodImagePullBackOff":      {ClassImagePullBackOff, ClassImagePullFailed},
	"PodOOM":                   {ClassOOMKilled},
	"NodeOOM":                  {ClassOOMKilled},
	"ResourceInsufficient":     {ClassUnschedulable},
	"PodFailScheduling":        {ClassUnschedulable},
	"PodEvict":                 {ClassEvicted},
	"NodeNotReady":             {ClassNodeNotReady},
	"NodePLEGUnhealthy":        {ClassNodeNotReady},
	"NodeRebooted":             {ClassNodeRebooted},
	"NodeDockerHung":           {ClassKernelHung},
	"VolumeFailMount":          {ClassVolumeMountFailed},
	"FailCreatePodExceedQuota": {ClassFailedCreate},
}

// Classify names what ev means, and a detail where the class has one
// (the probe for ProbeFailed, why no node fits for Unschedulable, the
// process for a node-problem-detector OOMKilling).
func Classify(ev *corev1.Event) (class, detail string) {
	kind, msg := ev.InvolvedObject.Kind, ev.Message
	switch ev.Reason {
	case "BackOff":
		switch {
		case strings.HasPrefix(msg, "Back-off restarting failed container"):
			return ClassCrashLoop, ""
		case strings.HasPrefix(msg, "Back-off pulling image"):
			return ClassImagePullBackOff, ""
		}
	case "Failed":
		switch {
		case strings.HasPrefix(msg, "Failed to pull image"), strings.HasPrefix(msg, "Error: ErrImagePull"):
			return ClassImagePullFailed, ""
		case strings.HasPrefix(msg, "Error: ImagePullBackOff"):
			return ClassImagePullBackOff, ""
		}
	case "ErrImageNeverPull", "InspectFailed":
		return ClassImagePullFailed, ""
	case "SystemOOM":
		return ClassOOMKilled, ""
	case "OOMKilling":
		return ClassOOMKilled, killedProcess(msg)
	case "Unhealthy":
		if probe, _, ok := strings.Cut(msg, " probe "); ok {
			return ClassProbeFailed, strings.ToLower(probe)
		}
		return ClassProbeFailed, ""
	case "FailedScheduling":
		return ClassUnschedulable, unschedulableWhy(msg)
	case "Evicted":
		return ClassEvicted, ""
	case "TaintManagerEviction", "NodeControllerEviction":
		if strings.HasPrefix(msg, "Marking for deletion") {
			return ClassEvicted, ""
		}
	case "NodeNotReady":
		return ClassNodeNotReady, ""
	case "Rebooted":
		return ClassNodeRebooted, ""
	case "TaskHung", "DockerHung":
		return ClassKernelHung, ""
	case "FailedMount", "FailedAttachVolume", "FailedMapVolume":
		return ClassVolumeMountFailed, ""
	case "FailedCreate":
		return ClassFailedCreate, ""
	case "Preempted", "Preempting":
		return ClassPreempted, ""
	case "NetworkNotReady":
		return ClassNetworkNotReady, ""
	case "DNSConfigForming":
		return ClassDNSConfigForming, ""
	}
	if kind == "HorizontalPodAutoscaler" && strings.HasPrefix(ev.Reason, "Failed") {
		return ClassHPAFailed, ""
	}
	return ClassOther, ""
}

// killedProcess is the process name of the kernel's "Killed process 1234
// (java) total-vm:…", as node-problem-detector reports it.
func killedProcess(msg string) string {
	_, rest, ok := strings.Cut(msg, "Killed process ")
	if !ok {
		return ""
	}
	_, rest, ok = strings.Cut(rest, "(")
	if !ok {
		return ""
	}
	name, _, _ := strings.Cut(rest, ")")
	return name
}

// unschedulableCauses are the scheduler's filter reasons (its plugins'
// ErrReason texts) by the cause eventide names.
var unschedulableCauses = []struct{ text, cause string }{
	{"Insufficient cpu", "insufficient cpu"},
	{"Insufficient memory", "insufficient memory"},
	{"Insufficient ephemeral-storage", "insufficient ephemeral-storage"},
	{"Insufficient nvidia.com/gpu", "insufficient gpu"},
	{"Insufficient ", "insufficient resources"},
	{"Too many pods", "too many pods"},
	{"untolerated taint", "taint"},
	{"taints that the pod didn't tolerate", "taint"},
	{"didn't match Pod's node affinity/selector", "node affinity"},
	{"didn't match pod affinity rules", "pod affinity"},
	{"anti-affinity rules", "pod anti-affinity"},
	{"didn't match pod topology spread constraints", "topology spread"},
	{"didn't have free ports", "ports"},
	{"were unschedulable", "node unschedulable"},
	{"volume node affinity conflict", "volume"},
	{"unbound immediate PersistentVolumeClaims", "volume"},
	{"did not have enough free storage", "volume"},
	{"had no available volume zone", "volume"},
	{"exceed max volume count", "volume"},
}

// unschedulableWhy is why no node fits, from the scheduler's "0/N nodes
// are available: 2 Insufficient cpu, 1 node(s) had untolerated taint(s).
// preemption: …": the causes it names before "preemption:", sorted and
// comma-separated ("insufficient cpu, taint").
func unschedulableWhy(msg string) string {
	_, why, ok := strings.Cut(msg, "nodes are available:")
	if !ok {
		return ""
	}
	why, _, _ = strings.Cut(why, "preemption:")
	var causes []string
	for _, c := range unschedulableCauses {
		if !strings.Contains(why, c.text) {
			continue
		}
		if c.cause == "insufficient resources" && len(causes) > 0 && strings.HasPrefix(causes[len(causes)-1], "insufficient") {
			continue // a named resource already says it
		}
		if !slices.Contains(causes, c.cause) {
			causes = append(causes, c.cause)
		}
	}
	slices.Sort(causes)
	return strings.Join(causes, ", ")
}
