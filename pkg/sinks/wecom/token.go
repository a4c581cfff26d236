package wecom

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/eventide/eventide/pkg/sinks"
)

// tokens is an application's access token: fetched on first use and
// reused until it expires (WeCom says 7200 s) or WeCom calls it invalid,
// never fetched per event (kube-eventer did).
type tokens struct {
	url    string // gettoken with corpid and corpsecret
	client *http.Client
	now    func() time.Time

	mu      sync.Mutex
	token   string
	expires time.Time
	fetches int // how many times a token was fetched (tests)
}

// earlyRefresh is how long before its stated expiry a token is replaced,
// so a message in flight never carries one that runs out on the way.
const earlyRefresh = 5 * time.Minute

// get returns the current token, fetching one when there is none.
func (t *tokens) get(ctx context.Context) (string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.token != "" && t.now().Before(t.expires) {
		return t.token, nil
	}
	answer, err := sinks.Send(ctx, t.client, http.MethodGet, t.url, "application/json", nil, nil)
	if err != nil {
		return "", err // the URL is redacted to scheme and host: it holds the secret
	}
	var a struct {
		ErrCode     int    `json:"errcode"`
		ErrMsg      string `json:"errmsg"`
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
	}
	if err := json.Unmarshal(answer, &a); err != nil {
		return "", sinks.Permanent(sinks.ClassRejected, fmt.Errorf("wecom gettoken: answer is not WeCom's JSON: %s", sinks.Truncate(string(answer), 200)))
	}
	switch {
	case a.ErrCode == codeBusy:
		return "", sinks.Retryable(sinks.ClassHTTP5xx, fmt.Errorf("wecom gettoken: errcode %d: %s", a.ErrCode, a.ErrMsg), 0)
	case a.ErrCode != 0:
		// 40013 (corpID) and 40001 (corpSecret): a configuration error.
		return "", sinks.Permanent(sinks.ClassRejected, fmt.Errorf("wecom gettoken: errcode %d: %s (check corpID and corpSecret)", a.ErrCode, sinks.Truncate(a.ErrMsg, 200)))
	case a.AccessToken == "":
		return "", sinks.Permanent(sinks.ClassRejected, fmt.Errorf("wecom gettoken: no access_token in the answer"))
	}
	life := time.Duration(a.ExpiresIn) * time.Second
	if life <= 0 {
		life = 7200 * time.Second
	}
	t.token, t.expires, t.fetches = a.AccessToken, t.now().Add(max(life-earlyRefresh, life/2)), t.fetches+1
	return t.token, nil
}

// invalidate forgets token when it is still the current one, so the next
// get fetches another.
func (t *tokens) invalidate(token string) {
	t.mu.Lock()
	if t.token == token {
		t.token = ""
	}
	t.mu.Unlock()
}
