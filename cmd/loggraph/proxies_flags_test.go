package main

import (
	"testing"

	"github.com/loggraph/loggraph/db/dbtest"
)

// TestServeTrustedProxiesFlag: a --trusted-proxies item that is neither an address
// nor a CIDR prefix is a usage error naming it, before anything is served.
func TestServeTrustedProxiesFlag(t *testing.T) {
	t.Parallel()
	u := dbtest.NewURL(t)
	for _, c := range []struct{ value, want string }{
		{"10.0.0.0/33", `--trusted-proxies: trusted proxy "10.0.0.0/33": not a CIDR prefix such as 10.0.0.0/8`},
		{"10.0.0.1, proxy.internal", `--trusted-proxies: trusted proxy "proxy.internal": not an IP address or CIDR prefix`},
	} {
		t.Run(c.value, func(t *testing.T) {
			_, err := cli(t, u, "serve", "--trusted-proxies", c.value)
			if _, ok := err.(usageError); !ok || err.Error() != c.want {
				t.Fatalf("got %v, want the usage error %q", err, c.want)
			}
		})
	}
}
