package kubeenv

import "crypto/tls"

// insecureTLS is used only to poll /readyz before the serving certificate
// exists on disk; every client the tests use verifies it.
func insecureTLS() *tls.Config {
	return &tls.Config{InsecureSkipVerify: true} //nolint:gosec // readiness poll only
}
