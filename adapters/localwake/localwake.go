// Package localwake carries wake-up hints from short-lived processes (the
// `stent` CLI) to a long-running one (stentd) that share a SQLite file
// on one machine, over loopback UDP.
//
// On SQLite a deployment's notifier is in-process: nothing outside stentd
// hears it, so a `stent dispatch` used to wait for stentd's next poll
// (seconds). With localwake, stentd wraps its notifier in a Listener: it
// reads datagrams on a 127.0.0.1 port and records that port in a small
// file beside the database (DBPATH-wake-PORT). The CLI wraps its own
// notifier in a Sender: after each write it publishes, the event also goes
// as one datagram to every port recorded beside the database, and stentd's
// workers, waiters and cancel watchers hear it at once.
//
// Events are hints (ports.Notifier): a lost datagram, a stale file or no
// listener at all costs latency, never correctness; every waiter keeps
// polling. Only the loopback interface is used, and a datagram only makes
// stentd read its database sooner.
package localwake

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

// fileInfix joins the database path and the port in a wake file's name.
const fileInfix = "-wake-"

// maxDatagram bounds a datagram; an event is far smaller.
const maxDatagram = 8 << 10

// wireEvent is a datagram: the event's JSON plus its topic (as in
// pgnotify's payload).
type wireEvent struct {
	Topic string `json:"topic"`
	domain.Event
}

func encode(ev domain.Event) ([]byte, error) {
	ev.V = domain.EventVersion
	b, err := json.Marshal(wireEvent{Topic: string(ev.Topic), Event: ev})
	if err != nil {
		return nil, fmt.Errorf("localwake: encode %s event: %w", ev.Kind, err)
	}
	return b, nil
}

func decode(b []byte) (domain.Event, error) {
	var w wireEvent
	if err := json.Unmarshal(b, &w); err != nil {
		return domain.Event{}, err
	}
	switch {
	case w.V != domain.EventVersion:
		return domain.Event{}, fmt.Errorf("version %d, want %d", w.V, domain.EventVersion)
	case w.Kind == "":
		return domain.Event{}, errors.New("no kind")
	case w.Topic == "":
		return domain.Event{}, errors.New("no topic")
	}
	ev := w.Event
	ev.Topic = domain.Topic(w.Topic)
	return ev, nil
}

// Config says which database the processes share.
type Config struct {
	// DBPath is the SQLite database file; the wake files sit beside it.
	DBPath string
	// Logger receives malformed datagrams and file errors; nil discards.
	Logger *slog.Logger
}

func (c Config) logger() *slog.Logger {
	if c.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return c.Logger
}

// wakeFiles lists the wake files beside dbPath and the ports they name.
func wakeFiles(dbPath string) (map[string]int, error) {
	dir, base := filepath.Split(dbPath)
	if dir == "" {
		dir = "."
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	out := map[string]int{}
	prefix := base + fileInfix
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), prefix)
		if !ok || e.IsDir() {
			continue
		}
		port, err := strconv.Atoi(rest)
		if err != nil || port <= 0 || port > 65535 {
			continue
		}
		out[filepath.Join(dir, e.Name())] = port
	}
	return out, nil
}

// Listener is the notifier of the process that serves a SQLite database
// (stentd): every call goes to the wrapped notifier, and events received
// on its loopback port are published into it. Close stops listening,
// removes the wake file and closes the wrapped notifier.
type Listener struct {
	ports.Notifier
	conn *net.UDPConn
	file string
	log  *slog.Logger
	done chan struct{}
	once sync.Once
	err  error
}

var _ ports.Notifier = (*Listener)(nil)

// Listen starts listening on a free 127.0.0.1 UDP port for events to
// publish into inner, and records the port beside cfg.DBPath. Wake files
// left by processes that are gone (their port is free) are removed.
func Listen(inner ports.Notifier, cfg Config) (*Listener, error) {
	if inner == nil {
		return nil, fmt.Errorf("localwake: %w", domain.InvalidArgument("the wrapped notifier is nil"))
	}
	if cfg.DBPath == "" {
		return nil, fmt.Errorf("localwake: %w", domain.InvalidArgument("Config.DBPath is empty"))
	}
	log := cfg.logger()
	removeStale(cfg.DBPath, log)
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, fmt.Errorf("localwake: listen on loopback: %w", err)
	}
	port := conn.LocalAddr().(*net.UDPAddr).Port
	file := cfg.DBPath + fileInfix + strconv.Itoa(port)
	if err := os.WriteFile(file, []byte(conn.LocalAddr().String()+"\n"), 0o644); err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("localwake: record the wake port: %w", err)
	}
	l := &Listener{Notifier: inner, conn: conn, file: file, log: log, done: make(chan struct{})}
	go l.serve()
	return l, nil
}

// removeStale removes the wake files whose port nobody listens on: a
// process that died without Close left them.
func removeStale(dbPath string, log *slog.Logger) {
	files, err := wakeFiles(dbPath)
	if err != nil {
		return
	}
	for file, port := range files {
		probe, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port})
		if err != nil {
			continue // in use: a live listener
		}
		_ = probe.Close()
		if err := os.Remove(file); err == nil {
			log.Debug("removed a stale wake file", "file", file)
		}
	}
}

// Addr is the loopback address the listener reads.
func (l *Listener) Addr() string { return l.conn.LocalAddr().String() }

// File is the wake file recording Addr beside the database.
func (l *Listener) File() string { return l.file }

func (l *Listener) serve() {
	defer close(l.done)
	buf := make([]byte, maxDatagram)
	for {
		n, _, err := l.conn.ReadFromUDP(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		ev, err := decode(buf[:n])
		if err != nil {
			l.log.Debug("ignored a malformed wake datagram", "error", err)
			continue
		}
		// A hint: the wrapped notifier's error only costs latency.
		_ = l.Notifier.Publish(context.Background(), ev)
	}
}

// Close stops listening, removes the wake file and closes the wrapped
// notifier. Idempotent.
func (l *Listener) Close() error {
	l.once.Do(func() {
		err := l.conn.Close()
		<-l.done
		if rerr := os.Remove(l.file); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
			err = errors.Join(err, rerr)
		}
		l.err = errors.Join(err, l.Notifier.Close())
	})
	return l.err
}

// Sender is the notifier of a short-lived process writing to a SQLite
// database another process serves (the CLI): Publish goes to the wrapped
// notifier and, as a datagram, to every listener recorded beside the
// database (read once, at the first Publish). Subscribe and Close go to
// the wrapped notifier.
type Sender struct {
	ports.Notifier
	cfg Config

	mu     sync.Mutex
	conn   *net.UDPConn
	peers  []*net.UDPAddr
	loaded bool
	closed bool
}

var _ ports.Notifier = (*Sender)(nil)

// NewSender wraps inner; it opens nothing until the first Publish.
func NewSender(inner ports.Notifier, cfg Config) (*Sender, error) {
	if inner == nil {
		return nil, fmt.Errorf("localwake: %w", domain.InvalidArgument("the wrapped notifier is nil"))
	}
	if cfg.DBPath == "" {
		return nil, fmt.Errorf("localwake: %w", domain.InvalidArgument("Config.DBPath is empty"))
	}
	return &Sender{Notifier: inner, cfg: cfg}, nil
}

// Publish publishes ev on the wrapped notifier and sends it to the
// listeners. Sending is best effort: no listener, a stale wake file or a
// lost datagram is not an error.
func (s *Sender) Publish(ctx context.Context, ev domain.Event) error {
	err := s.Notifier.Publish(ctx, ev)
	b, eerr := encode(ev)
	if eerr != nil {
		return errors.Join(err, eerr)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return err
	}
	if !s.loaded {
		s.loaded = true
		files, ferr := wakeFiles(s.cfg.DBPath)
		if ferr == nil && len(files) > 0 {
			for _, port := range files {
				s.peers = append(s.peers, &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port})
			}
			if s.conn, ferr = net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)}); ferr != nil {
				s.cfg.logger().Debug("no socket to wake the database's listeners", "error", ferr)
				s.peers = nil
			}
		}
	}
	for _, p := range s.peers {
		_, _ = s.conn.WriteToUDP(b, p)
	}
	return err
}

// Peers is how many listeners Publish sends to (0 before the first
// Publish).
func (s *Sender) Peers() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.peers)
}

// Close closes the socket and the wrapped notifier. Idempotent.
func (s *Sender) Close() error {
	s.mu.Lock()
	var err error
	if !s.closed && s.conn != nil {
		err = s.conn.Close()
	}
	s.closed = true
	s.mu.Unlock()
	return errors.Join(err, s.Notifier.Close())
}
