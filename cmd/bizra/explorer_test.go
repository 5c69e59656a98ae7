package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// explorerDB creates a database for an explorer on the environment's
// PostgreSQL (PG*; with REDIS_URL, required when CI is set) and drops it
// when the test ends.
func explorerDB(t *testing.T) string {
	t.Helper()
	if os.Getenv("PGHOST") == "" || os.Getenv("REDIS_URL") == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("PGHOST and REDIS_URL must be set in CI (scripts/explorer-services.sh start)")
		}
		t.Skip("PGHOST or REDIS_URL not set; start the services with scripts/explorer-services.sh start")
	}
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	var b [6]byte
	rand.Read(b[:])
	db := "explorer_cli_" + hex.EncodeToString(b[:])
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+db); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), "")
		if err == nil {
			c.Exec(context.Background(), "DROP DATABASE "+db+" WITH (FORCE)") //nolint:errcheck // best effort
			c.Close(context.Background())
		}
	})
	return db
}

// TestExplorerCommand runs `bizra explorer` against `bizra devnet` with the
// PostgreSQL and Redis of the environment (PG*, REDIS_URL; required when CI
// is set) and checks that the API serves the devnet's blocks.
func TestExplorerCommand(t *testing.T) {
	db := explorerDB(t)
	dev := startBizra(t, "devnet", "--block-time", "100ms", "--metrics.addr", "127.0.0.1:0", "--rpc.addr", "127.0.0.1:0")
	rpcURL := dev.stdout.find(t, regexp.MustCompile(`JSON-RPC\s+(http://\S+)`), 30*time.Second)
	ex := startBizra(t, "explorer", "--rpc", rpcURL, "--postgres", "dbname="+db, "--listen", "127.0.0.1:0", "--log.level", "warn")
	url := ex.stdout.find(t, regexp.MustCompile(`explorer: (http://\S+)/ `), 30*time.Second)

	deadline := time.Now().Add(30 * time.Second)
	for {
		var st struct {
			Height int64 `json:"height"`
		}
		if getJSON(url+"/api/stats", &st) && st.Height >= 5 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("explorer height %d after 30 s", st.Height)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := ex.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := ex.wait(30 * time.Second); code != 0 {
		t.Fatalf("explorer exit code %d after SIGTERM", code)
	}
	dev.cmd.Process.Signal(syscall.SIGTERM) //nolint:errcheck // cleanup kills it otherwise
	dev.wait(30 * time.Second)
}

// getJSON decodes the JSON answer of a GET; false on any failure.
func getJSON(url string, v any) bool {
	resp, err := http.Get(url)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	return resp.StatusCode == http.StatusOK && json.NewDecoder(resp.Body).Decode(v) == nil
}

// TestExplorerOnTestnet indexes a four-validator testnet (separate
// processes on libp2p) and checks the validators' records: every block
// counted once for its proposer, everyone participating, and a validator
// killed mid-run losing participation and reputation while the others keep
// theirs.
func TestExplorerOnTestnet(t *testing.T) {
	db := explorerDB(t)
	dir := filepath.Join(t.TempDir(), "tn")
	base := freePorts(t, 12)
	init := startBizra(t, "testnet", "init", "--dir", dir, "--validators", "4", "--block-time", "300ms",
		"--rpc-port", fmt.Sprint(base), "--metrics-port", fmt.Sprint(base+4), "--p2p-port", fmt.Sprint(base+8))
	if code := init.wait(60 * time.Second); code != 0 {
		t.Fatalf("testnet init exited %d: %s", code, init.stderr)
	}
	procs := make([]*proc, 4)
	for i := range procs {
		procs[i] = startBizra(t, "start", "--home", filepath.Join(dir, fmt.Sprintf("node%d", i)), "--log.level", "warn")
	}
	ex := startBizra(t, "explorer", "--rpc", fmt.Sprintf("http://127.0.0.1:%d", base), "--postgres", "dbname="+db,
		"--listen", "127.0.0.1:0", "--log.level", "warn")
	url := ex.stdout.find(t, regexp.MustCompile(`explorer: (http://\S+)/ `), 30*time.Second)

	type validator struct {
		Name           string   `json:"name"`
		BlocksProposed int64    `json:"blocksProposed"`
		Participation  *float64 `json:"participation"`
		Reputation     float64  `json:"reputation"`
	}
	// snapshot reads the height and the validators of one indexed batch.
	snapshot := func() (int64, []validator) {
		for {
			var s1, s2 struct {
				Height int64 `json:"height"`
			}
			var vs struct {
				Validators []validator `json:"validators"`
			}
			if getJSON(url+"/api/stats", &s1) && getJSON(url+"/api/validators", &vs) && getJSON(url+"/api/stats", &s2) && s1.Height == s2.Height {
				return s1.Height, vs.Validators
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitHeight := func(h int64, d time.Duration) {
		t.Helper()
		deadline := time.Now().Add(d)
		for {
			if got, _ := snapshot(); got >= h {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("explorer did not reach height %d within %s", h, d)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	waitHeight(20, 90*time.Second)
	h, vs := snapshot()
	var proposed int64
	for _, v := range vs {
		proposed += v.BlocksProposed
		if v.Participation == nil || *v.Participation < 0.5 || v.Reputation < 50 {
			t.Fatalf("validator %s with everyone online: %+v", v.Name, v)
		}
	}
	if len(vs) != 4 || proposed != h {
		t.Fatalf("%d validators proposed %d blocks at height %d: %+v", len(vs), proposed, h, vs)
	}

	// Kill validator 3: the other three keep a quorum.
	_ = procs[3].cmd.Process.Kill()
	<-procs[3].done
	waitHeight(h+30, 120*time.Second)
	_, vs = snapshot()
	sort.Slice(vs, func(i, j int) bool { return *vs[i].Participation < *vs[j].Participation })
	low, others := vs[0], vs[1:]
	for _, v := range others {
		if *v.Participation < 0.8 || v.Reputation <= low.Reputation || *low.Participation > 0.8*(*v.Participation) {
			t.Fatalf("after killing one validator: lowest %+v, another %+v", low, v)
		}
	}
	t.Logf("killed validator %s: participation %.2f reputation %.2f; others from %.2f", low.Name, *low.Participation, low.Reputation, *others[0].Participation)
}
