package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"strings"
)

// errAborted is returned when the user answers no to a prompt.
var errAborted = errors.New("aborted")

// requireConfirmable fails with a usage error when a command would have to
// prompt but cannot: stdin is not a terminal and -f was not given. It runs
// before the store is opened.
func (r *runner) requireConfirmable(force bool, action string) error {
	if force || r.env.StdinIsTTY {
		return nil
	}
	return usagef("refusing to %s without confirmation: stdin is not a terminal; pass -f to %s anyway", action, action)
}

// confirm asks question on the terminal (stderr) and reads a yes/no answer
// from stdin; with force it does not ask.
func (r *runner) confirm(ctx context.Context, force bool, question string) error {
	if force {
		return nil
	}
	fmt.Fprintf(r.env.Stderr, "%s [y/N] ", question)
	answer := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(r.env.Stdin).ReadString('\n')
		answer <- line
	}()
	select {
	case <-ctx.Done():
		fmt.Fprintln(r.env.Stderr)
		return ctx.Err()
	case line := <-answer:
		switch strings.ToLower(strings.TrimSpace(line)) {
		case "y", "yes":
			return nil
		}
		return errAborted
	}
}
