package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"os"
	"regexp"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// TestExplorerCommand runs `bizra explorer` against `bizra devnet` with the
// PostgreSQL and Redis of the environment (PG*, REDIS_URL; required when CI
// is set) and checks that the API serves the devnet's blocks.
func TestExplorerCommand(t *testing.T) {
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
	defer admin.Exec(ctx, "DROP DATABASE "+db+" WITH (FORCE)") //nolint:errcheck // best effort

	dev := startBizra(t, "devnet", "--block-time", "100ms", "--metrics.addr", "127.0.0.1:0", "--rpc.addr", "127.0.0.1:0")
	rpcURL := dev.stdout.find(t, regexp.MustCompile(`JSON-RPC\s+(http://\S+)`), 30*time.Second)
	ex := startBizra(t, "explorer", "--rpc", rpcURL, "--postgres", "dbname="+db, "--listen", "127.0.0.1:0", "--log.level", "warn")
	url := ex.stdout.find(t, regexp.MustCompile(`explorer: (http://\S+)/ `), 30*time.Second)

	deadline := time.Now().Add(30 * time.Second)
	for {
		var st struct {
			Height int64 `json:"height"`
		}
		resp, err := http.Get(url + "/api/stats")
		if err == nil {
			json.NewDecoder(resp.Body).Decode(&st) //nolint:errcheck // checked through st
			resp.Body.Close()
		}
		if st.Height >= 5 {
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
