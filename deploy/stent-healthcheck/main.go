// Command stent-healthcheck asks a running stentd whether it is healthy
// and exits 0 if it is, 1 if it is not. It exists for the container
// image: the distroless runtime has no shell and no curl, so the
// Dockerfile's HEALTHCHECK runs this static binary in exec form.
//
// It reads the address stentd listens on from STENT_HTTP_ADDR, the same
// variable stentd reads (default 127.0.0.1:8080); a wildcard host
// (0.0.0.0, ::, empty) is reached on loopback. It asks /readyz by default
// (the store answers and the workers run); --path=/healthz asks only
// whether the process is up. Health endpoints need no token.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"
)

func main() {
	os.Exit(run(os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

// defaultAddr is stentd's default STENT_HTTP_ADDR.
const defaultAddr = "127.0.0.1:8080"

// run is the command: it returns the exit code (0 healthy, 1 not, 2 bad
// usage).
func run(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("stent-healthcheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "", "stentd's HTTP address host:port (default $STENT_HTTP_ADDR, else "+defaultAddr+")")
	path := fs.String("path", "/readyz", "endpoint to ask: /readyz (ready to work) or /healthz (process up)")
	timeout := fs.Duration("timeout", 3*time.Second, "give up after this long")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: stent-healthcheck [flags]\n\nExits 0 when stentd answers 2xx, 1 otherwise.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "stent-healthcheck: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if *addr == "" {
		*addr = getenv("STENT_HTTP_ADDR")
	}
	if *addr == "" {
		*addr = defaultAddr
	}
	target, err := healthURL(*addr, *path)
	if err != nil {
		fmt.Fprintf(stderr, "stent-healthcheck: %v\n", err)
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		fmt.Fprintf(stderr, "stent-healthcheck: %v\n", err)
		return 2
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Fprintf(stderr, "stent-healthcheck: unhealthy: %v\n", err)
		return 1
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	line := strings.TrimSpace(string(body))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		fmt.Fprintf(stderr, "stent-healthcheck: unhealthy: %s answered %s: %s\n", target, resp.Status, line)
		return 1
	}
	fmt.Fprintf(stdout, "healthy: %s answered %s: %s\n", target, resp.Status, line)
	return 0
}

// healthURL builds the URL of path on stentd's listen address; a wildcard host
// is reached on loopback.
func healthURL(addr, path string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("address %q: want host:port: %w", addr, err)
	}
	switch host {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::", "[::]":
		host = "::1"
	}
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	return "http://" + net.JoinHostPort(host, port) + path, nil
}
