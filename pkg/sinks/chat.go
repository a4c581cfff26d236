package sinks

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
)

// DefaultChatText is the message of the chat robots (DingTalk, WeCom,
// Feishu) when none is set: what happened to which object, the cluster
// when named, and the message. A grouped notification says the group's
// count: these robots cannot edit a message, so each interval posts one.
const DefaultChatText = `{{ with .ClusterName }}[{{ . }}] {{ end }}{{ .Type }} {{ .Reason }}` +
	`{{ with .Group }} (×{{ .Count }}{{ if eq .Status "quiet" }}; none since {{ .LastSeen.UTC.Format "15:04 UTC" }}{{ end }}){{ end }}: ` +
	`{{ .InvolvedObject.Kind }} {{ with .InvolvedObject.Namespace }}{{ . }}/{{ end }}{{ .InvolvedObject.Name }}` + "\n{{ .Message }}"

// DefaultChatTitle is the title of a chat robot's markdown or card
// message when none is set.
const DefaultChatTitle = `{{ .Type }} {{ .Reason }}: {{ .InvolvedObject.Kind }} {{ .InvolvedObject.Name }}`

// RateLimited is a sink whose service throttles senders (a chat robot
// takes 20 messages a minute): the receiver's delivery.rateLimit defaults
// to DefaultRateLimit ("20/min"), so eventide waits instead of being
// throttled.
type RateLimited interface {
	DefaultRateLimit() string
}

// ChatAnswer is the JSON answer of a chat API in a 2xx: DingTalk and
// WeCom say errcode/errmsg, Feishu code/msg (its older robots
// StatusCode/StatusMessage).
type ChatAnswer struct {
	Code int    // 0: accepted
	Msg  string // the service's words, for the log
}

// DecodeChatAnswer reads answer. An answer that is not such JSON is an
// error: what the service did with the message is unknown, and counting
// it as delivered would hide a proxy's login page or a wrong URL.
func DecodeChatAnswer(answer []byte) (ChatAnswer, error) {
	var a struct {
		ErrCode, Code, StatusCode  *int
		ErrMsg, Msg, StatusMessage string
	}
	if err := json.Unmarshal(answer, &a); err != nil {
		return ChatAnswer{}, Permanent(ClassRejected, fmt.Errorf("answer is not the service's JSON: %s", Truncate(string(answer), 200)))
	}
	switch {
	case a.ErrCode != nil:
		return ChatAnswer{Code: *a.ErrCode, Msg: a.ErrMsg}, nil
	case a.Code != nil:
		return ChatAnswer{Code: *a.Code, Msg: a.Msg}, nil
	case a.StatusCode != nil:
		return ChatAnswer{Code: *a.StatusCode, Msg: a.StatusMessage}, nil
	}
	return ChatAnswer{}, Permanent(ClassRejected, fmt.Errorf("answer carries no result code: %s", Truncate(string(answer), 200)))
}

// PostChat posts a chat API's JSON body and reads its answer: a
// transport or HTTP failure is classified as SendJSON does, a 2xx that is
// not the service's JSON is an error (DecodeChatAnswer).
func PostChat(ctx context.Context, client *http.Client, endpoint string, body []byte) (ChatAnswer, error) {
	answer, err := SendJSON(ctx, client, http.MethodPost, endpoint, nil, body)
	if err != nil {
		return ChatAnswer{}, err
	}
	return DecodeChatAnswer(answer)
}
