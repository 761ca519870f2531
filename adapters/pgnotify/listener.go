package pgnotify

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/stenthq/stent/domain"
)

// listener is one listening connection, from its dial to its loss. Only
// the reader goroutine uses conn.
type listener struct {
	conn *pgx.Conn
	// Guarded by Notifier.mu.
	ready    bool // listening to every wanted channel, announced with an EventReset
	channels map[string]*channelState
	lost     chan struct{} // closed when the connection is lost
}

// channelState is a channel on one listening connection.
type channelState struct {
	listening bool          // LISTEN ran
	done      chan struct{} // closed when LISTEN ran
}

// errWake interrupts the reader's wait because a channel waits for LISTEN.
var errWake = errors.New("pgnotify: wake up")

// session opens the listening connection, announces it ready and listens
// until the connection fails or the notifier closes (ctx ends); the Link
// runs it again with backoff.
func (n *Notifier) session(ctx context.Context, ready func()) error {
	l, err := n.connect(ctx)
	if err != nil {
		return err
	}
	ready()
	err = n.listen(ctx, l)
	n.lost(l, err)
	return err
}

// connect opens the listening connection, listens to every wanted channel,
// then marks it ready; run then tells the subscribers to re-read.
func (n *Notifier) connect(ctx context.Context) (*listener, error) {
	dialCtx, cancel := context.WithTimeout(ctx, n.cfg.ConfirmTimeout)
	defer cancel()
	conn, err := pgx.ConnectConfig(dialCtx, n.connConfig)
	if err != nil {
		return nil, err
	}
	l := &listener{conn: conn, channels: map[string]*channelState{}, lost: make(chan struct{})}
	n.mu.Lock()
	if n.fan.Closed() {
		n.mu.Unlock()
		n.closeConn(l)
		return nil, domain.ErrClosed
	}
	n.gen = l // not ready: Subscribe keeps failing until every LISTEN ran
	for _, c := range n.fan.Keys() {
		l.channels[c] = &channelState{done: make(chan struct{})}
	}
	n.mu.Unlock()
	if err := n.sync(ctx, l); err != nil {
		n.lost(l, err)
		return nil, err
	}
	n.mu.Lock()
	ok := n.gen == l && !n.fan.Closed()
	if ok {
		l.ready = true
		n.link.SetUp()
	}
	n.mu.Unlock()
	if !ok {
		n.lost(l, domain.ErrClosed)
		return nil, domain.ErrClosed
	}
	return l, nil
}

// listen waits for notifications on l until the connection fails or the
// notifier closes. A subscriber needing a LISTEN interrupts the wait; an
// idle wait ends every HealthCheckInterval with a probe and the UNLISTEN
// of channels nobody wants any more.
func (n *Notifier) listen(ctx context.Context, l *listener) error {
	for {
		n.mu.Lock()
		if n.fan.Closed() {
			n.mu.Unlock()
			return domain.ErrClosed
		}
		if n.dirty {
			n.mu.Unlock()
			if err := n.sync(ctx, l); err != nil {
				return err
			}
			continue
		}
		wake, interrupt := context.WithCancelCause(ctx)
		n.interrupt = interrupt
		n.mu.Unlock()

		waitCtx, cancel := context.WithTimeout(wake, n.cfg.HealthCheckInterval)
		notification, err := l.conn.WaitForNotification(waitCtx)
		idle := errors.Is(waitCtx.Err(), context.DeadlineExceeded)
		cancel()
		n.mu.Lock()
		n.interrupt = nil
		n.mu.Unlock()
		woken := errors.Is(context.Cause(wake), errWake)
		interrupt(nil)

		if notification != nil {
			n.route(notification.Channel, notification.Payload)
		}
		switch {
		case err == nil:
		case l.conn.IsClosed() || ctx.Err() != nil:
			return err
		case woken:
		case idle:
			if err := n.idleCheck(ctx, l); err != nil {
				return err
			}
		default:
			return err
		}
	}
}

// idleCheck probes the connection and unlistens unwanted channels.
func (n *Notifier) idleCheck(ctx context.Context, l *listener) error {
	pingCtx, cancel := context.WithTimeout(ctx, n.cfg.ConfirmTimeout)
	defer cancel()
	if err := l.conn.Ping(pingCtx); err != nil {
		return fmt.Errorf("health probe: %w", err)
	}
	n.mu.Lock()
	n.dirty = true
	n.mu.Unlock()
	return n.sync(ctx, l)
}

// sync runs LISTEN for every wanted channel not listened to yet and
// UNLISTEN for every listened channel nobody wants, in one round trip.
// An unwanted channel is forgotten before its UNLISTEN is sent, so a
// subscriber wanting it again meanwhile gets a fresh LISTEN after it.
func (n *Notifier) sync(ctx context.Context, l *listener) error {
	n.mu.Lock()
	n.dirty = false
	var listen, unlisten []string
	var started []*channelState
	for c, st := range l.channels {
		switch {
		case !n.fan.Wanted(c):
			if st.listening {
				unlisten = append(unlisten, c)
			}
			delete(l.channels, c)
		case !st.listening:
			listen = append(listen, c)
			started = append(started, st)
		}
	}
	n.mu.Unlock()
	if len(listen)+len(unlisten) == 0 {
		return nil
	}
	var sql strings.Builder
	for _, c := range unlisten {
		sql.WriteString("UNLISTEN " + pgx.Identifier{c}.Sanitize() + ";")
	}
	for _, c := range listen {
		sql.WriteString("LISTEN " + pgx.Identifier{c}.Sanitize() + ";")
	}
	execCtx, cancel := context.WithTimeout(ctx, n.cfg.ConfirmTimeout)
	defer cancel()
	if _, err := l.conn.Exec(execCtx, sql.String()); err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	n.mu.Lock()
	for _, st := range started {
		st.listening = true
		close(st.done)
	}
	n.mu.Unlock()
	return nil
}

// lost retires l: waiting subscribers fail, and subscribers that had been
// told the connection was up are told it is gone.
func (n *Notifier) lost(l *listener, err error) {
	n.mu.Lock()
	wasReady := l.ready && !n.fan.Closed()
	l.ready = false
	if n.gen == l {
		n.gen = nil
		n.link.SetDown(err)
	}
	select {
	case <-l.lost:
	default:
		close(l.lost)
	}
	n.mu.Unlock()
	n.closeConn(l)
	if wasReady {
		n.link.Lost()
	}
}

func (n *Notifier) closeConn(l *listener) {
	ctx, cancel := context.WithTimeout(context.Background(), n.cfg.ConfirmTimeout)
	defer cancel()
	_ = l.conn.Close(ctx)
}
