package rest

import (
	"fmt"
	"net/http"
	"net/netip"
	"strings"
)

// ParseTrustedProxies reads --trusted-proxies: a comma-separated list of CIDR
// prefixes or single addresses (10.0.0.0/8, 192.0.2.7, ::1). Empty: no proxy is
// trusted.
func ParseTrustedProxies(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for item := range strings.SplitSeq(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		if strings.Contains(item, "/") {
			p, err := netip.ParsePrefix(item)
			if err != nil {
				return nil, fmt.Errorf("trusted proxy %q: not a CIDR prefix such as 10.0.0.0/8", item)
			}
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(item)
		if err != nil {
			return nil, fmt.Errorf("trusted proxy %q: not an IP address or CIDR prefix", item)
		}
		out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return out, nil
}

// trustedPeer tells whether the request's direct peer is one of the trusted proxies.
func trustedPeer(r *http.Request, trusted []netip.Prefix) bool {
	if len(trusted) == 0 {
		return false
	}
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	peer := ap.Addr().Unmap()
	for _, p := range trusted {
		if p.Contains(peer) {
			return true
		}
	}
	return false
}

// publicOrigin is the scheme and host a client used to reach the server: the
// connection's own, or, when the peer is a trusted proxy, its X-Forwarded-Proto and
// X-Forwarded-Host. Of a comma-separated header the last value counts (the one the
// trusted peer added; earlier ones came from further away); a value that is not a
// plain scheme or host is ignored.
func publicOrigin(r *http.Request, trusted []netip.Prefix) (scheme, host string) {
	scheme, host = "http", r.Host
	if r.TLS != nil {
		scheme = "https"
	}
	if !trustedPeer(r, trusted) {
		return scheme, host
	}
	if p := strings.ToLower(lastForwarded(r, "X-Forwarded-Proto")); p == "http" || p == "https" {
		scheme = p
	}
	if h := lastForwarded(r, "X-Forwarded-Host"); h != "" && !strings.ContainsAny(h, "/?#@\\ \t") {
		host = h
	}
	return scheme, host
}

// lastForwarded is the last value of a forwarded header, over all its lines.
func lastForwarded(r *http.Request, name string) string {
	vals := r.Header.Values(name)
	if len(vals) == 0 {
		return ""
	}
	last := vals[len(vals)-1]
	if i := strings.LastIndexByte(last, ','); i >= 0 {
		last = last[i+1:]
	}
	return strings.TrimSpace(last)
}
