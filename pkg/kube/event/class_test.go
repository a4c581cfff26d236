package event

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// classCase is one message as Kubernetes produces it. source is the file
// that emits it: in k8s.io/kubernetes v1.36.3 (the module cache) unless
// it names node-problem-detector, whose rules are in its
// config/kernel-monitor.json (github.com/kubernetes/node-problem-detector
// at 06c4b903acbdf4739f12326d183c142766c86f8e).
type classCase struct {
	source, kind, typ, reason, msg string
	class, detail                  string
	// v1 marks an events.k8s.io/v1 producer (the scheduler, the kubelet's
	// newer recorders): through core/v1 its event has no source, but a
	// reportingComponent, and its note as the message.
	v1 bool
}

const npd = "node-problem-detector config/kernel-monitor.json"

var classCases = []classCase{
	// Crash loops and image pulls.
	{source: "pkg/kubelet/kuberuntime/kuberuntime_manager.go", kind: "Pod", typ: "Warning", reason: "BackOff",
		msg: "Back-off restarting failed container app in pod web-1_shop(3f1c)", class: ClassCrashLoop},
	{source: "pkg/kubelet/kuberuntime/kuberuntime_manager.go (before 1.31: without the pod)", kind: "Pod", typ: "Warning", reason: "BackOff",
		msg: "Back-off restarting failed container", class: ClassCrashLoop},
	{source: "pkg/kubelet/images/image_manager.go", kind: "Pod", typ: "Normal", reason: "BackOff",
		msg: `Back-off pulling image "registry.example/app:v2"`, class: ClassImagePullBackOff},
	{source: "pkg/kubelet/kuberuntime/kuberuntime_container.go (images.ErrImagePullBackOff)", kind: "Pod", typ: "Warning", reason: "Failed",
		msg: "Error: ImagePullBackOff", class: ClassImagePullBackOff},
	{source: "pkg/kubelet/images/image_manager.go", kind: "Pod", typ: "Warning", reason: "Failed",
		msg: `Failed to pull image "registry.example/app:v2": rpc error: code = NotFound desc = failed to pull and unpack image: not found`, class: ClassImagePullFailed},
	{source: "pkg/kubelet/kuberuntime/kuberuntime_container.go (images.ErrImagePull)", kind: "Pod", typ: "Warning", reason: "Failed",
		msg: "Error: ErrImagePull", class: ClassImagePullFailed},
	{source: "pkg/kubelet/images/image_manager.go", kind: "Pod", typ: "Warning", reason: "ErrImageNeverPull",
		msg: `Container image "app:dev" is not present with pull policy of Never`, class: ClassImagePullFailed},
	{source: "pkg/kubelet/images/image_manager.go (events.FailedToInspectImage)", kind: "Pod", typ: "Warning", reason: "InspectFailed",
		msg: `Failed to inspect image "app:dev": rpc error`, class: ClassImagePullFailed},
	{source: "pkg/kubelet/kuberuntime/kuberuntime_container.go", kind: "Pod", typ: "Warning", reason: "Failed",
		msg: "Error: failed to create containerd task: exec: \"/app\": permission denied", class: ClassOther},
	{source: "pkg/kubelet/images/image_manager.go", kind: "Pod", typ: "Normal", reason: "Pulling",
		msg: `Pulling image "registry.example/app:v2"`, class: ClassOther},
	// Memory.
	{source: "pkg/kubelet/oom/oom_watcher_linux.go", kind: "Node", typ: "Warning", reason: "SystemOOM",
		msg: "System OOM encountered, victim process: java, pid: 4242", class: ClassOOMKilled},
	{source: "pkg/kubelet/oom/oom_watcher_linux.go (no victim known)", kind: "Node", typ: "Warning", reason: "SystemOOM",
		msg: "System OOM encountered", class: ClassOOMKilled},
	{source: npd, kind: "Node", typ: "Warning", reason: "OOMKilling",
		msg: "Killed process 4242 (java) total-vm:4823748kB, anon-rss:2097152kB, file-rss:0kB, shmem-rss:0kB", class: ClassOOMKilled, detail: "java"},
	// Probes.
	{source: "pkg/kubelet/prober/prober.go", kind: "Pod", typ: "Warning", reason: "Unhealthy",
		msg: "Readiness probe failed: HTTP probe failed with statuscode: 503", class: ClassProbeFailed, detail: "readiness"},
	{source: "pkg/kubelet/prober/prober.go", kind: "Pod", typ: "Warning", reason: "Unhealthy",
		msg: "Liveness probe failed: Get \"http://10.0.0.7:8080/healthz\": dial tcp 10.0.0.7:8080: connect: connection refused", class: ClassProbeFailed, detail: "liveness"},
	{source: "pkg/kubelet/prober/prober.go", kind: "Pod", typ: "Warning", reason: "Unhealthy",
		msg: "Startup probe failed: command timed out", class: ClassProbeFailed, detail: "startup"},
	{source: "pkg/kubelet/prober/prober.go (probe error)", kind: "Pod", typ: "Warning", reason: "Unhealthy",
		msg: "Readiness probe errored and resulted in unknown state: rpc error: code = NotFound", class: ClassProbeFailed, detail: "readiness"},
	{source: "pkg/kubelet/prober/prober.go", kind: "Pod", typ: "Warning", reason: "ProbeWarning",
		msg: "Readiness probe warning: Probe terminated redirects", class: ClassOther},
	// Scheduling (the scheduler records through events.k8s.io/v1).
	{source: "pkg/scheduler/framework/types.go + plugins/noderesources/fit.go", kind: "Pod", typ: "Warning", reason: "FailedScheduling", v1: true,
		msg:   "0/3 nodes are available: 3 Insufficient cpu. preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod.",
		class: ClassUnschedulable, detail: "insufficient cpu"},
	{source: "pkg/scheduler/framework/plugins/noderesources/fit.go", kind: "Pod", typ: "Warning", reason: "FailedScheduling", v1: true,
		msg:   "0/5 nodes are available: 2 Insufficient memory, 3 Insufficient cpu. preemption: 0/5 nodes are available: 5 No preemption victims found for incoming pod.",
		class: ClassUnschedulable, detail: "insufficient cpu, insufficient memory"},
	{source: "pkg/scheduler/framework/plugins/tainttoleration/taint_toleration.go", kind: "Pod", typ: "Warning", reason: "FailedScheduling", v1: true,
		msg:   "0/1 nodes are available: 1 node(s) had untolerated taint(s). preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.",
		class: ClassUnschedulable, detail: "taint"},
	{source: "pkg/scheduler/framework/plugins/nodeaffinity/node_affinity.go", kind: "Pod", typ: "Warning", reason: "FailedScheduling", v1: true,
		msg:   "0/4 nodes are available: 1 node(s) had untolerated taint(s), 3 node(s) didn't match Pod's node affinity/selector. preemption: 0/4 nodes are available: 4 Preemption is not helpful for scheduling.",
		class: ClassUnschedulable, detail: "node affinity, taint"},
	{source: "pkg/scheduler/framework/plugins/interpodaffinity/filtering.go", kind: "Pod", typ: "Warning", reason: "FailedScheduling", v1: true,
		msg:   "0/3 nodes are available: 3 node(s) didn't match pod anti-affinity rules. preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod.",
		class: ClassUnschedulable, detail: "pod anti-affinity"},
	{source: "pkg/scheduler/framework/plugins/nodeports/node_ports.go", kind: "Pod", typ: "Warning", reason: "FailedScheduling", v1: true,
		msg:   "0/2 nodes are available: 2 node(s) didn't have free ports for the requested pod ports. preemption: 0/2 nodes are available: 2 No preemption victims found for incoming pod.",
		class: ClassUnschedulable, detail: "ports"},
	{source: "pkg/scheduler/framework/plugins/volumebinding/volume_binding.go", kind: "Pod", typ: "Warning", reason: "FailedScheduling", v1: true,
		msg:   "0/3 nodes are available: pod has unbound immediate PersistentVolumeClaims. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.",
		class: ClassUnschedulable, detail: "volume"},
	{source: "pkg/scheduler/framework/plugins/nodeunschedulable/node_unschedulable.go", kind: "Pod", typ: "Warning", reason: "FailedScheduling", v1: true,
		msg:   "0/1 nodes are available: 1 node(s) were unschedulable. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.",
		class: ClassUnschedulable, detail: "node unschedulable"},
	{source: "pkg/scheduler/framework/plugins/podtopologyspread/plugin.go", kind: "Pod", typ: "Warning", reason: "FailedScheduling", v1: true,
		msg:   "0/6 nodes are available: 6 node(s) didn't match pod topology spread constraints. preemption: 0/6 nodes are available: 6 No preemption victims found for incoming pod.",
		class: ClassUnschedulable, detail: "topology spread"},
	{source: "pkg/scheduler/schedule_one.go", kind: "Pod", typ: "Warning", reason: "FailedScheduling", v1: true,
		msg: "skip schedule deleting pod: shop/web-1", class: ClassUnschedulable},
	{source: "pkg/scheduler/framework/preemption/executor.go", kind: "Pod", typ: "Normal", reason: "Preempted", v1: true,
		msg: "Preempted by pod 7c1e5d on node node-2", class: ClassPreempted},
	{source: "pkg/kubelet/preemption/preemption.go (events.PreemptContainer)", kind: "Pod", typ: "Warning", reason: "Preempting",
		msg: "Preempted in order to admit critical pod", class: ClassPreempted},
	// Eviction.
	{source: "pkg/kubelet/eviction/helpers.go + eviction_manager.go", kind: "Pod", typ: "Warning", reason: "Evicted",
		msg:   "The node was low on resource: memory. Threshold quantity: 100Mi, available: 51200Ki. Container app was using 812Mi, request is 256Mi, has larger consumption of memory. ",
		class: ClassEvicted},
	{source: "pkg/controller/tainteviction/taint_eviction.go", kind: "Pod", typ: "Normal", reason: "TaintManagerEviction",
		msg: "Marking for deletion Pod shop/web-1", class: ClassEvicted},
	{source: "pkg/controller/tainteviction/taint_eviction.go", kind: "Pod", typ: "Normal", reason: "TaintManagerEviction",
		msg: "Cancelling deletion of Pod shop/web-1", class: ClassOther},
	{source: "pkg/controller/util/node/controller_utils.go", kind: "Pod", typ: "Normal", reason: "NodeControllerEviction",
		msg: "Marking for deletion Pod web-1 from Node node-2", class: ClassEvicted},
	{source: "pkg/kubelet/eviction/eviction_manager.go", kind: "Node", typ: "Warning", reason: "EvictionThresholdMet",
		msg: "Attempting to reclaim memory", class: ClassOther},
	// Nodes.
	{source: "pkg/controller/util/node/controller_utils.go (node lifecycle controller)", kind: "Node", typ: "Normal", reason: "NodeNotReady",
		msg: "Node node-2 status is now: NodeNotReady", class: ClassNodeNotReady},
	{source: "pkg/controller/util/node/controller_utils.go (MarkPodsNotReady)", kind: "Pod", typ: "Warning", reason: "NodeNotReady",
		msg: "Node is not ready", class: ClassNodeNotReady},
	{source: "pkg/kubelet/kubelet_node_status.go", kind: "Node", typ: "Normal", reason: "NodeNotReady",
		msg: "Node node-2 status is now: NodeNotReady", class: ClassNodeNotReady},
	{source: "pkg/kubelet/kubelet_node_status.go", kind: "Node", typ: "Normal", reason: "NodeReady",
		msg: "Node node-2 status is now: NodeReady", class: ClassOther},
	{source: "pkg/kubelet/nodestatus/setters.go", kind: "Node", typ: "Warning", reason: "Rebooted",
		msg: "Node node-2 has been rebooted, boot id: 5f2c0b3e-8d1a-4c6e-9f7b-2a1d3e4f5a6b", class: ClassNodeRebooted},
	{source: npd, kind: "Node", typ: "Warning", reason: "TaskHung",
		msg: "task jbd2/sda1-8:312 blocked for more than 120 seconds.", class: ClassKernelHung},
	{source: npd, kind: "Node", typ: "Warning", reason: "DockerHung",
		msg: "task docker:7 blocked for more than 120 seconds.", class: ClassKernelHung},
	{source: npd, kind: "Node", typ: "Warning", reason: "KernelOops",
		msg: "BUG: unable to handle kernel NULL pointer dereference at 0000000000000010", class: ClassOther},
	// Volumes.
	{source: "pkg/kubelet/kubelet.go", kind: "Pod", typ: "Warning", reason: "FailedMount",
		msg: "Unable to attach or mount volumes: unmounted volumes=[data], unattached volumes=[data]: timed out waiting for the condition", class: ClassVolumeMountFailed},
	{source: "pkg/volume/util/operationexecutor/operation_generator.go", kind: "Pod", typ: "Warning", reason: "FailedMount",
		msg: `MountVolume.SetUp failed for volume "config" : configmap "web-config" not found`, class: ClassVolumeMountFailed},
	{source: "pkg/controller/volume/attachdetach/reconciler (events.FailedAttachVolume)", kind: "Pod", typ: "Warning", reason: "FailedAttachVolume",
		msg: `AttachVolume.Attach failed for volume "pvc-1" : rpc error: code = DeadlineExceeded`, class: ClassVolumeMountFailed},
	// Controllers.
	{source: "pkg/controller/controller_utils.go", kind: "ReplicaSet", typ: "Warning", reason: "FailedCreate",
		msg: `Error creating: pods "web-7d9f-" is forbidden: exceeded quota: compute, requested: cpu=500m, used: cpu=2, limited: cpu=2`, class: ClassFailedCreate},
	{source: "pkg/controller/cronjob/cronjob_controllerv2.go", kind: "CronJob", typ: "Warning", reason: "FailedCreate",
		msg: `Error creating job: jobs.batch "report-29120" is forbidden: exceeded quota`, class: ClassFailedCreate},
	{source: "pkg/controller/podautoscaler/horizontal.go", kind: "HorizontalPodAutoscaler", typ: "Warning", reason: "FailedGetResourceMetric",
		msg: "failed to get cpu utilization: unable to get metrics for resource cpu: no metrics returned from resource metrics API", class: ClassHPAFailed},
	{source: "pkg/controller/podautoscaler/horizontal.go", kind: "HorizontalPodAutoscaler", typ: "Warning", reason: "FailedComputeMetricsReplicas",
		msg: "invalid metrics (1 invalid out of 1), first error is: failed to get cpu resource metric value", class: ClassHPAFailed},
	{source: "pkg/controller/podautoscaler/horizontal.go", kind: "HorizontalPodAutoscaler", typ: "Warning", reason: "FailedRescale",
		msg: "New size: 5; reason: cpu resource utilization (percentage of request) above target; error: Operation cannot be fulfilled", class: ClassHPAFailed},
	{source: "pkg/controller/podautoscaler/horizontal.go", kind: "HorizontalPodAutoscaler", typ: "Normal", reason: "SuccessfulRescale",
		msg: "New size: 5; reason: cpu resource utilization (percentage of request) above target", class: ClassOther},
	// Network and DNS.
	{source: "pkg/kubelet/kubelet.go (NetworkNotReadyErrorMsg)", kind: "Pod", typ: "Warning", reason: "NetworkNotReady",
		msg: "network is not ready: container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady message:Network plugin returns error: cni plugin not initialized", class: ClassNetworkNotReady},
	{source: "pkg/kubelet/network/dns/dns.go", kind: "Pod", typ: "Warning", reason: "DNSConfigForming",
		msg: "Search Line limits were exceeded, some search paths have been omitted, the applied search line is: shop.svc.cluster.local svc.cluster.local cluster.local", class: ClassDNSConfigForming},
	{source: "pkg/kubelet/network/dns/dns.go", kind: "Pod", typ: "Warning", reason: "DNSConfigForming",
		msg: "Nameserver limits were exceeded, some nameservers have been omitted, the applied nameserver line is: 10.0.0.10 10.0.0.11 10.0.0.12", class: ClassDNSConfigForming},
	{source: "pkg/kubelet/kuberuntime/kuberuntime_manager.go", kind: "Pod", typ: "Normal", reason: "SandboxChanged",
		msg: "Pod sandbox changed, it will be killed and re-created.", class: ClassOther},
}

// Every message Kubernetes produces for a class gets it, whatever its
// type, in the core/v1 shape and the events.k8s.io/v1 one alike.
func TestClassify(t *testing.T) {
	if len(classCases) < 40 {
		t.Fatalf("%d cases, want at least 40 real messages", len(classCases))
	}
	seen := map[string]bool{}
	for _, c := range classCases {
		ev := &corev1.Event{Reason: c.reason, Message: c.msg, Type: c.typ}
		ev.InvolvedObject.Kind = c.kind
		if c.v1 {
			ev.ReportingController = "default-scheduler"
		} else {
			ev.Source.Component = "kubelet"
		}
		for _, typ := range []string{c.typ, "Normal", "Warning"} {
			ev.Type = typ
			class, detail := Classify(ev)
			if class != c.class || detail != c.detail {
				t.Errorf("%s (%s %s %q, type %s): %s %q, want %s %q", c.source, c.kind, c.reason, c.msg, typ, class, detail, c.class, c.detail)
			}
		}
		seen[c.class] = true
	}
	for _, class := range Classes {
		if !seen[class] {
			t.Errorf("class %s has no real message in the table", class)
		}
	}
	for alias, classes := range ClassAliases {
		for _, c := range classes {
			if !seen[c] {
				t.Errorf("alias %s maps to unknown class %s", alias, c)
			}
		}
	}
}

// NewEnhancedEvent classifies once; the class stays out of the JSON.
func TestEnhancedEventHasClass(t *testing.T) {
	ev := NewEnhancedEvent(&corev1.Event{Reason: "Unhealthy", Message: "Liveness probe failed: timeout"}, "")
	if ev.Class != ClassProbeFailed || ev.ClassDetail != "liveness" {
		t.Errorf("class %q %q", ev.Class, ev.ClassDetail)
	}
	get, _ := Field("class")
	if get(ev) != ClassProbeFailed {
		t.Error("the class field does not read the class")
	}
}

func BenchmarkClassify(b *testing.B) {
	evs := make([]*corev1.Event, len(classCases))
	for i, c := range classCases {
		evs[i] = &corev1.Event{Reason: c.reason, Message: c.msg}
		evs[i].InvolvedObject.Kind = c.kind
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		Classify(evs[i%len(evs)])
	}
}
