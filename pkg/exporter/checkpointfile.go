package exporter

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/eventide/eventide/pkg/kube"
)

// checkpointFile mirrors the checkpoints in a file beside the spool,
// written far more often than the ConfigMap (checkpointFileInterval),
// since a file write costs the API server nothing. A process that is
// killed and restarts on the same volume (a container restart: the
// chart's emptyDir stays) resumes from the later of the two, so it sends
// again only what it delivered in the last checkpointFileInterval instead
// of the last checkpoint.interval. A new pod, or another replica, has no
// file and resumes from the ConfigMap as before.
//
// Taking the later of the two is safe: both only ever say "delivered up
// to here" (by this process, or by whoever wrote the ConfigMap since)
// about the same cluster. The file carries the ConfigMap's uid and is
// used only while that ConfigMap is the one in the cluster: a spool kept
// on a volume across a cluster rebuilt, or pointed at another cluster,
// holds resourceVersions of another etcd, and resuming "later" than them
// would skip events. So nothing is mirrored before the ConfigMap exists
// (the first checkpoint.interval of a new install resumes from nothing,
// as it did before the mirror).
type checkpointFile struct {
	path      string
	configMap string // the ConfigMap the file mirrors; a file of another is ignored
	last      string
}

// checkpointFileInterval is how often the file is written when the
// checkpoints moved: at 300 events/s, 25 ms is about 8 events, for a
// small JSON write to the page cache 40 times a second at most.
const checkpointFileInterval = 25 * time.Millisecond

type checkpointFileData struct {
	ConfigMap   string           `json:"configMap"`
	UID         string           `json:"uid"` // the ConfigMap's
	Checkpoints kube.Checkpoints `json:"checkpoints"`
}

// newCheckpointFile is the mirror in dir (the spool folder) of ConfigMap
// configMap; nil when dir is "" or "-" (no spool, no volume to keep it).
func newCheckpointFile(dir, configMap string) *checkpointFile {
	if dir == "" || dir == "-" {
		return nil
	}
	return &checkpointFile{path: filepath.Join(dir, "checkpoints.json"), configMap: configMap}
}

// load reads the file; nothing (and no error) when there is none or it
// mirrors another ConfigMap, or another object of that name than the
// one with uid.
func (f *checkpointFile) load(uid string) (kube.Checkpoints, error) {
	b, err := os.ReadFile(f.path)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var d checkpointFileData
	if err := json.Unmarshal(b, &d); err != nil {
		return nil, fmt.Errorf("%s: %w", f.path, err)
	}
	if d.ConfigMap != f.configMap || d.UID == "" || d.UID != uid {
		return nil, nil
	}
	return d.Checkpoints, nil
}

// save writes cps, as of the ConfigMap with uid, when they changed,
// atomically (a temporary file renamed over the old one); nothing while
// uid is unknown. No fsync: the file is for a process that dies, not a
// machine; the ConfigMap covers the rest.
func (f *checkpointFile) save(cps kube.Checkpoints, uid string) error {
	if uid == "" {
		return nil
	}
	b, err := json.Marshal(checkpointFileData{ConfigMap: f.configMap, UID: uid, Checkpoints: cps})
	if err != nil {
		return err
	}
	if string(b) == f.last {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(f.path), 0o700); err != nil {
		return err
	}
	tmp := f.path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	if err := os.Rename(tmp, f.path); err != nil {
		return err
	}
	f.last = string(b)
	return nil
}

// laterOf is, per receiver and stream, the later of a and b.
func laterOf(a, b kube.Checkpoints) kube.Checkpoints {
	out := kube.Checkpoints{}
	for _, cps := range []kube.Checkpoints{a, b} {
		for r, streams := range cps {
			if out[r] == nil {
				out[r] = map[string]uint64{}
			}
			for s, rv := range streams {
				out[r][s] = max(out[r][s], rv)
			}
		}
	}
	return out
}
