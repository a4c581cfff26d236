package syslog

import (
	"bufio"
	"net"
	"strings"
	"testing"

	"github.com/eventide/eventide/pkg/sinks"
)

// A RELP server that answers what does not fit is a retryable failure of
// what it did not acknowledge, never a delivery; a refused message is its
// own failure.
func TestRELPAnswers(t *testing.T) {
	for _, c := range []struct {
		name     string
		answers  string // after the open's 200
		want     []string
		brokenOK bool
	}{
		{"both acknowledged", "2 rsp 6 200 OK\n3 rsp 6 200 OK\n", []string{"", ""}, false},
		{"out of order", "3 rsp 6 200 OK\n2 rsp 6 200 OK\n", []string{"", ""}, false},
		{"one refused", "2 rsp 6 200 OK\n3 rsp 9 500 error\n", []string{"", "rejected"}, false},
		{"server closes", "2 rsp 6 200 OK\n0 serverclose 0\n", []string{"", "network"}, true},
		{"unknown transaction", "9 rsp 6 200 OK\n", []string{"network", "network"}, true},
		{"huge length", "2 rsp 99999999999 200\n", []string{"network", "network"}, true},
		{"not RELP", "HTTP/1.1 400 Bad Request\r\n\r\n", []string{"network", "network"}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			client, server := net.Pipe()
			defer client.Close()
			go func() {
				defer server.Close()
				br := bufio.NewReader(server)
				if _, err := br.ReadString('\n'); err != nil { // open (its data has newlines: read the frame by its length)
					return
				}
				for range 2 { // the rest of the open offers
					_, _ = br.ReadString('\n')
				}
				_, _ = server.Write([]byte("1 rsp 6 200 OK\n"))
				_, _ = br.ReadString('\n') // the two syslog frames
				_, _ = br.ReadString('\n')
				_, _ = server.Write([]byte(c.answers))
			}()
			r, err := openRELP(client)
			if err != nil {
				t.Fatal(err)
			}
			buf := []byte("ab")
			errs, broken := r.send(buf, [][2]int{{0, 1}, {1, 2}})
			for i, want := range c.want {
				class, _, _ := sinks.Classify(errs[i])
				if (want == "" && errs[i] != nil) || (want != "" && string(class) != want) {
					t.Errorf("message %d: %v (%s), want %q", i, errs[i], class, want)
				}
			}
			if (broken != nil) != c.brokenOK {
				t.Errorf("session broken: %v, want %v", broken, c.brokenOK)
			}
		})
	}
	if f := string(relpFrame(nil, 7, "syslog", []byte("x y"))); !strings.HasPrefix(f, "7 syslog 3 x y\n") {
		t.Errorf("frame %q", f)
	}
}
