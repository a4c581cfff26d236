package sls

import (
	"crypto/hmac"
	"crypto/sha1" //nolint:gosec // Log Service's signature version 1 is HMAC-SHA1
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"time"
)

// sign sets req's Authorization: "LOG <accessKeyId>:<signature>", the
// signature base64(HMAC-SHA1(secret, VERB\nContent-MD5\nContent-Type\nDate\n
// + each x-log-/x-acs- header as "name:value\n", sorted + the path and the
// sorted query)). Date and Content-MD5 must be set.
func sign(req *http.Request, keyID, secret string) {
	req.Header.Set("Authorization", "LOG "+keyID+":"+signature(req, secret))
}

func signature(req *http.Request, secret string) string {
	var names []string
	for name := range req.Header {
		n := strings.ToLower(name)
		if strings.HasPrefix(n, "x-log-") || strings.HasPrefix(n, "x-acs-") {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString(req.Method + "\n" + req.Header.Get("Content-MD5") + "\n" + req.Header.Get("Content-Type") + "\n" + req.Header.Get("Date") + "\n")
	for _, n := range names {
		b.WriteString(n + ":" + req.Header.Get(n) + "\n")
	}
	b.WriteString(req.URL.Path)
	if q := req.URL.Query(); len(q) > 0 {
		keys := make([]string, 0, len(q))
		for k := range q {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for i, k := range keys {
			if i == 0 {
				b.WriteByte('?')
			} else {
				b.WriteByte('&')
			}
			b.WriteString(k + "=" + q.Get(k))
		}
	}
	m := hmac.New(sha1.New, []byte(secret))
	m.Write([]byte(b.String()))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// credentials are an AccessKey, or an STS token read from a file that
// something else keeps fresh (ACK's /var/addon/token-config, a RAM role
// agent): the file is read again once its Expiration is near or it
// changed.
type credentials struct {
	keyID, secret string // static keys; "" with a file
	file          string

	mu       sync.Mutex
	current  stsToken
	modified time.Time
	now      func() time.Time
}

type stsToken struct {
	AccessKeyID     string `json:"AccessKeyId"`
	AccessKeySecret string `json:"AccessKeySecret"`
	SecurityToken   string `json:"SecurityToken"`
	Expiration      string `json:"Expiration"`
}

// get returns the key ID, secret and security token ("" for keys) to
// sign with.
func (c *credentials) get() (keyID, secret, token string, err error) {
	if c.file == "" {
		return c.keyID, c.secret, "", nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	st, err := os.Stat(c.file)
	if err != nil {
		return "", "", "", fmt.Errorf("credentialsFile: %w", err)
	}
	exp, _ := time.Parse(time.RFC3339, c.current.Expiration)
	if c.current.AccessKeyID == "" || !st.ModTime().Equal(c.modified) || (!exp.IsZero() && c.now().After(exp.Add(-time.Minute))) {
		b, err := os.ReadFile(c.file)
		if err != nil {
			return "", "", "", fmt.Errorf("credentialsFile: %w", err)
		}
		var t stsToken
		if err := json.Unmarshal(b, &t); err != nil || t.AccessKeyID == "" || t.AccessKeySecret == "" {
			return "", "", "", fmt.Errorf("credentialsFile %s: not JSON with AccessKeyId, AccessKeySecret and SecurityToken", c.file)
		}
		c.current, c.modified = t, st.ModTime()
	}
	return c.current.AccessKeyID, c.current.AccessKeySecret, c.current.SecurityToken, nil
}
