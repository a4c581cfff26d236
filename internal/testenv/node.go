package testenv

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Node packages of the local AWS servers, pinned. Installed once into the
// cache folder with the machine's npm; their servers run under node with
// force-loopback.js, which puts 127.0.0.1 into every listen().
var npmPackages = []string{"kinesis-local@0.6.2", "local-aws-sqs@2.0.2", "serverless-offline-sns@0.78.2"}

// npmManifest replaces serverless (which serverless-offline-sns pulls in
// but its SNS server does not use) with a stub, keeping the install small.
const npmManifest = `{"name": "eventide-test-servers", "private": true,
 "overrides": {"serverless": "file:./serverless-stub"}}
`

var npmOnce struct {
	sync.Once
	dir string
	err error
}

// CacheDir is where built binaries and installed packages are kept.
func CacheDir() string {
	if d := os.Getenv("EVENTIDE_TEST_CACHE"); d != "" {
		return d
	}
	if d := os.Getenv("XDG_CACHE_HOME"); d != "" {
		return filepath.Join(d, "eventide-test")
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".cache", "eventide-test")
}

// NodeModules installs the pinned packages (once per machine) and returns
// the folder holding node_modules.
func NodeModules() (string, error) {
	npmOnce.Do(func() {
		dir := filepath.Join(CacheDir(), "npm-v2")
		npmOnce.dir = dir
		if _, err := os.Stat(filepath.Join(dir, "node_modules", ".eventide-complete")); err == nil {
			return
		}
		stub := filepath.Join(dir, "serverless-stub")
		if err := os.MkdirAll(stub, 0o755); err != nil {
			npmOnce.err = err
			return
		}
		for name, content := range map[string]string{
			filepath.Join(dir, "package.json"):  npmManifest,
			filepath.Join(stub, "package.json"): `{"name": "serverless", "version": "3.38.0", "main": "index.js"}`,
			filepath.Join(stub, "index.js"):     "module.exports = {};\n",
		} {
			if err := os.WriteFile(name, []byte(content), 0o644); err != nil {
				npmOnce.err = err
				return
			}
		}
		args := append([]string{"install", "--no-audit", "--no-fund", "--prefix", dir}, npmPackages...)
		cmd := exec.Command("npm", args...)
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			npmOnce.err = fmt.Errorf("npm install %v: %w", npmPackages, err)
			return
		}
		npmOnce.err = os.WriteFile(filepath.Join(dir, "node_modules", ".eventide-complete"), nil, 0o644)
	})
	return npmOnce.dir, npmOnce.err
}

// NodeServer is a node process serving on a loopback port.
type NodeServer struct {
	URL string
	cmd *exec.Cmd
	log *os.File
}

// Stop ends the server. It holds nothing on disk, so it is killed rather
// than asked (kinesis-mock ignores SIGINT).
func (n *NodeServer) Stop() {
	_ = n.cmd.Process.Kill()
	_ = n.cmd.Wait()
	n.log.Close()
}

// startNode runs node script (relative to node_modules' folder) with env,
// and returns once port accepts connections.
func startNode(ctx context.Context, script string, port int, env ...string) (*NodeServer, error) {
	dir, err := NodeModules()
	if err != nil {
		return nil, err
	}
	logf, err := os.CreateTemp("", "eventide-node-*.log")
	if err != nil {
		return nil, err
	}
	if !filepath.IsAbs(script) {
		script = filepath.Join(dir, script)
	}
	cmd := exec.Command("node", "-r", filepath.Join(RepoRoot(), "internal", "testenv", "force-loopback.js"), script)
	cmd.Dir = dir
	// Scripts kept in this repository find the packages through NODE_PATH.
	cmd.Env = append(cmd.Env, "NODE_PATH="+filepath.Join(dir, "node_modules"))
	// The server gets none of the caller's AWS settings (tests set their own).
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start node %s: %w", script, err)
	}
	n := &NodeServer{URL: fmt.Sprintf("http://127.0.0.1:%d", port), cmd: cmd, log: logf}
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	for {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
		if err == nil {
			c.Close()
			return n, nil
		}
		select {
		case <-ctx.Done():
			n.Stop()
			return nil, fmt.Errorf("%s did not listen on %d (log: %s): %w", script, port, logf.Name(), ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// StartKinesis runs kinesis-mock (npm kinesis-local) on a loopback port:
// the real Kinesis API (CreateStream, PutRecords, GetRecords) in memory.
func StartKinesis(ctx context.Context) (*NodeServer, error) {
	plain, err := FreePort()
	if err != nil {
		return nil, err
	}
	tlsPort, err := FreePort()
	if err != nil {
		return nil, err
	}
	dir, err := NodeModules()
	if err != nil {
		return nil, err
	}
	return startNode(ctx, "node_modules/kinesis-local/main.js", plain,
		"KINESIS_MOCK_CERT_PATH="+filepath.Join(dir, "node_modules", "kinesis-local", "server.json"),
		fmt.Sprintf("KINESIS_MOCK_PLAIN_PORT=%d", plain), fmt.Sprintf("KINESIS_MOCK_TLS_PORT=%d", tlsPort),
		"CREATE_STREAM_DURATION=0ms", "LOG_LEVEL=WARN")
}

// StartSQS runs local-aws-sqs (npm) on a loopback port with the named
// queues created; names ending in .fifo are FIFO queues.
func StartSQS(ctx context.Context, queues ...string) (*NodeServer, error) {
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	var qs []map[string]any
	for _, q := range queues {
		m := map[string]any{"QueueName": q}
		if strings.HasSuffix(q, ".fifo") {
			m["Attributes"] = map[string]string{"FifoQueue": "true"}
		}
		qs = append(qs, m)
	}
	b, err := json.Marshal(qs)
	if err != nil {
		return nil, err
	}
	return startNode(ctx, filepath.Join(RepoRoot(), "internal", "testenv", "sqs-server.js"), port,
		fmt.Sprintf("PORT=%d", port), "QUEUES="+string(b))
}

// snsServerScript runs serverless-offline-sns's SNS server on an express app.
// It is written next to node_modules because ES modules ignore NODE_PATH.
const snsServerScript = `import express from "express";
import { SNSServer } from "./node_modules/serverless-offline-sns/dist/sns-server.js";
const app = express();
new SNSServer(() => {}, app, "us-east-1", "123456789012");
app.listen(Number(process.env.PORT), "127.0.0.1");
`

// StartSNS runs serverless-offline-sns's SNS server (npm) on a loopback port:
// CreateTopic, Subscribe (http and sqs endpoints) and Publish, delivering to
// subscribers. It checks no signatures.
func StartSNS(ctx context.Context) (*NodeServer, error) {
	dir, err := NodeModules()
	if err != nil {
		return nil, err
	}
	script := filepath.Join(dir, "sns-server.mjs")
	if err := os.WriteFile(script, []byte(snsServerScript), 0o644); err != nil {
		return nil, err
	}
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	return startNode(ctx, script, port, fmt.Sprintf("PORT=%d", port))
}
