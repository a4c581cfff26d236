package e2e

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/eventide/eventide/internal/testenv"
	"github.com/eventide/eventide/internal/testenv/kubeenv"
)

// Warnings from the cluster reach the three chat robots: DingTalk signed
// and mentioning the owner from the pod's label, a WeCom robot once per
// event, and Feishu one message per group that says its count.
func TestChatRobots(t *testing.T) {
	ns := "e2e-robots"
	w := setupNamespace(t, ns)
	ding, wecom, feishu := testenv.NewRecorder(), testenv.NewRecorder(), testenv.NewRecorder()
	for _, r := range []*testenv.Recorder{ding, wecom, feishu} {
		defer r.Close()
	}
	ding.SetAnswer(`{"errcode":0,"errmsg":"ok"}`)
	wecom.SetAnswer(`{"errcode":0,"errmsg":"ok"}`)
	feishu.SetAnswer(`{"code":0,"msg":"success","data":{}}`)
	startEventide(t, fmt.Sprintf(`namespace: %s
route:
  match:
    - {type: Warning, receiver: ding}
    - {type: Warning, receiver: wecom}
    - {type: Warning, receiver: feishu}
receivers:
  - name: ding
    dingtalk:
      webhook: %s/robot/send?access_token=tok
      secret: SECe2e
      at: {userIds: ['{{ index .InvolvedObject.Labels "owner" }}']}
    delivery: {rateLimit: 50/s}
  - name: wecom
    wecom:
      webhook: %s/cgi-bin/webhook/send?key=k
      content: '{{ .Reason }} {{ .InvolvedObject.Name }}: {{ .Message }}'
    delivery: {rateLimit: 50/s}
  - name: feishu
    feishu: {webhook: %s/open-apis/bot/v2/hook/x}
    group: {by: [reason], wait: 1s, interval: 1s}
`, ns, ding.URL, wecom.URL, feishu.URL))
	const n = 3
	for i := 0; i < n; i++ {
		createEvent(t, kubeenv.PodEvent(w.Pods[i], fmt.Sprintf("robot-%d", i), "Warning", "BackOff", fmt.Sprintf("Back-off %d", i)))
	}
	count := func(want string) func([]testenv.Request) bool {
		return func(reqs []testenv.Request) bool {
			c := 0
			for _, r := range reqs {
				if strings.Contains(string(r.Body), want) {
					c++
				}
			}
			return c >= n || (want == "×3" && c >= 1)
		}
	}
	reqs, err := ding.WaitFor(waitCtx(t), count(`"atUserIds":["team-`+ns+`"]`))
	if err != nil {
		t.Fatalf("DingTalk got %d messages, want %d mentioning the owner", len(reqs), n)
	}
	for _, r := range reqs {
		if !strings.Contains(r.URL, "access_token=tok&timestamp=") || !strings.Contains(r.URL, "&sign=") {
			t.Errorf("DingTalk request not signed: %s", r.URL)
		}
	}
	if reqs, err := wecom.WaitFor(waitCtx(t), count(`"msgtype":"text"`)); err != nil || len(reqs) != n {
		t.Fatalf("WeCom got %d messages, want %d", len(reqs), n)
	} else {
		var body struct{ Text struct{ Content string } }
		for i, r := range reqs {
			if err := json.Unmarshal(r.Body, &body); err != nil || !strings.HasPrefix(body.Text.Content, "BackOff app-") {
				t.Errorf("WeCom message %d: %s", i, r.Body)
			}
		}
	}
	if reqs, err := feishu.WaitFor(waitCtx(t), count("×3")); err != nil {
		t.Fatalf("Feishu never said the group's count of 3: %d messages", len(reqs))
	}
}
