package explorer

import (
	"context"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// proxy forwards TCP connections to a target until it is cut, which closes
// every connection and refuses new ones, as a stopped server does.
type proxy struct {
	target string
	addr   string
	mu     sync.Mutex
	ln     net.Listener
	conns  []net.Conn
}

func newProxy(t *testing.T, target string) *proxy {
	p := &proxy{target: target, addr: freeAddr(t)}
	p.up(t)
	t.Cleanup(p.cut)
	return p
}

func (p *proxy) up(t *testing.T) {
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		t.Fatal(err)
	}
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", p.target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, s)
			p.mu.Unlock()
			go func() { io.Copy(s, c); s.Close() }()
			go func() { io.Copy(c, s); c.Close() }()
		}
	}()
}

func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// recovery asks the pool chosen for ctx whether it is a standby.
func recovery(t *testing.T, db *DB, ctx context.Context) bool {
	t.Helper()
	var r bool
	if err := db.read(ctx, func(q querier) error {
		return q.QueryRow(ctx, `SELECT pg_is_in_recovery()`).Scan(&r)
	}); err != nil {
		t.Fatalf("read: %v", err)
	}
	return r
}

func counterValue(t *testing.T, m *Metrics, pool string) float64 {
	return counterOf(m.DBQueries.WithLabelValues(pool))
}

func TestReplicaRouting(t *testing.T) {
	needEnv(t, "BIZRA_PG_REPLICA")
	pg, replica := testDB(t)
	u, err := url.Parse(replica)
	if err != nil {
		t.Fatal(err)
	}
	px := newProxy(t, u.Host)
	u.Host = px.addr
	cfg := testConfig("http://127.0.0.1:1", pg, u.String(), "")
	m := NewMetrics(nil)
	db, err := OpenDB(context.Background(), cfg, m, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	if _, err := Migrate(ctx, db.Primary()); err != nil {
		t.Fatal(err)
	}

	// Reads reach the replica; strong reads and writes the primary.
	if !recovery(t, db, ctx) {
		t.Fatal("a read did not reach the replica")
	}
	if recovery(t, db, WithStrongRead(ctx)) {
		t.Fatal("a strong read reached the replica")
	}
	if counterValue(t, m, "replica-0") != 1 || counterValue(t, m, "primary") != 1 {
		t.Fatalf("reads by pool: replica %v primary %v", counterValue(t, m, "replica-0"), counterValue(t, m, "primary"))
	}
	// The replica streams the primary's writes.
	if _, err := db.Primary().Exec(ctx, `INSERT INTO indexer_state (chain_id, genesis_hash) VALUES (7, '\x01')`); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the write to reach the replica", func() bool {
		var id int64
		err := db.read(ctx, func(q querier) error {
			return q.QueryRow(ctx, `SELECT chain_id FROM indexer_state`).Scan(&id)
		})
		return err == nil && id == 7
	})
	db.CheckReplicas(ctx)
	if gaugeValue(m.ReplicaUp.WithLabelValues("replica-0")) != 1 || gaugeValue(m.ReplicaLagBytes.WithLabelValues("replica-0")) < 0 {
		t.Fatal("replica not reported up")
	}

	// The replica goes away: the read in flight is served by the primary,
	// and later reads do not try the replica until a health check passes.
	px.cut()
	if recovery(t, db, ctx) {
		t.Fatal("a read reached the replica after it went away")
	}
	if gaugeValue(m.ReplicaUp.WithLabelValues("replica-0")) != 0 {
		t.Fatal("replica still reported up")
	}
	before := counterValue(t, m, "replica-0")
	for i := 0; i < 5; i++ {
		if recovery(t, db, ctx) {
			t.Fatal("read reached a down replica")
		}
	}
	if counterValue(t, m, "replica-0") != before {
		t.Fatal("reads were tried on a replica marked down")
	}
	db.CheckReplicas(ctx)
	if gaugeValue(m.ReplicaUp.WithLabelValues("replica-0")) != 0 {
		t.Fatal("a health check passed with the replica away")
	}

	// Back: the next health check returns it to reads.
	px.up(t)
	db.CheckReplicas(ctx)
	if !recovery(t, db, ctx) {
		t.Fatal("reads did not return to the replica")
	}
}

// TestReplicaStopped stops the real standby server (when the test knows
// where it is, as in CI) and checks that reads go around it, then starts it
// again.
func TestReplicaStopped(t *testing.T) {
	needEnv(t, "BIZRA_PG_REPLICA", "BIZRA_PG_REPLICA_DATA", "BIZRA_PG_CTL")
	dir, pgctl := os.Getenv("BIZRA_PG_REPLICA_DATA"), os.Getenv("BIZRA_PG_CTL")
	ctl := func(args ...string) {
		t.Helper()
		cmd := exec.Command(pgctl, append([]string{"-D", dir}, args...)...)
		if os.Geteuid() == 0 { // PostgreSQL refuses to run as root
			cmd = exec.Command("runuser", append([]string{"-u", "postgres", "--", pgctl, "-D", dir}, args...)...)
		}
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("pg_ctl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	pg, replica := testDB(t)
	m := NewMetrics(nil)
	db, err := OpenDB(context.Background(), testConfig("http://127.0.0.1:1", pg, replica, ""), m, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	if !recovery(t, db, ctx) {
		t.Fatal("a read did not reach the replica")
	}
	ctl("-m", "fast", "-w", "stop")
	restarted := false
	t.Cleanup(func() {
		if !restarted {
			ctl("-l", dir+".log", "-w", "start")
		}
	})
	for i := 0; i < 3; i++ {
		if recovery(t, db, ctx) {
			t.Fatal("a read reached the stopped replica")
		}
	}
	db.CheckReplicas(ctx)
	if gaugeValue(m.ReplicaUp.WithLabelValues("replica-0")) != 0 {
		t.Fatal("stopped replica reported up")
	}
	ctl("-l", dir+".log", "-w", "start")
	restarted = true
	waitFor(t, 20*time.Second, "the restarted replica to serve reads", func() bool {
		db.CheckReplicas(ctx)
		return recovery(t, db, ctx)
	})
}
