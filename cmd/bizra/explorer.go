package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/bizra/node0/explorer"
)

func runExplorer(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("explorer", stderr, "explorer [--config FILE] [--rpc URL] [--postgres DSN] [--replica DSN]... [--redis URL] [--listen ADDR]")
	config := fs.String("config", "", "TOML file with the explorer's settings (flags override it)")
	rpcURL := fs.String("rpc", "", "the node's JSON-RPC HTTP URL (default http://127.0.0.1:8545)")
	ws := fs.String("ws", "", "the node's WebSocket URL (default: from --rpc)")
	pg := fs.String("postgres", "", "PostgreSQL primary connection string (default: the PG* environment variables)")
	var replicas listFlag
	fs.Var(&replicas, "replica", "PostgreSQL streaming replica for reads (repeat, or comma-separated)")
	redisURL := fs.String("redis", "", "Redis URL, redis://HOST:PORT/DB (default: $REDIS_URL; none: memory cache only)")
	listen := fs.String("listen", "", "address of the API, web page and /metrics (default 127.0.0.1:8080)")
	level := fs.String("log.level", "info", "log level: debug, info, warn, error")
	if err := parse(fs, args); err != nil {
		return err
	}
	cfg := explorer.DefaultConfig()
	if *config != "" {
		if err := explorer.LoadConfigFile(*config, &cfg); err != nil {
			return err
		}
	}
	if cfg.Redis == "" {
		cfg.Redis = os.Getenv("REDIS_URL")
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	for name, apply := range map[string]func(){
		"rpc": func() { cfg.RPC = *rpcURL }, "ws": func() { cfg.WS = *ws }, "postgres": func() { cfg.Postgres = *pg },
		"replica": func() { cfg.Replicas = replicas }, "redis": func() { cfg.Redis = *redisURL }, "listen": func() { cfg.Listen = *listen },
	} {
		if set[name] {
			apply()
		}
	}
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(*level)); err != nil {
		return fmt.Errorf("%w: --log.level: %v", errUsage, err)
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: lv}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	e, err := explorer.Open(ctx, cfg, explorer.Options{Logger: log})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "explorer: http://%s/ (API under /api/, metrics at /metrics), indexing %s\n", e.Addr(), cfg.RPC)
	err = e.Run(ctx)
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	return err
}

// listFlag collects a repeated or comma-separated flag.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(s string) error {
	*l = append(*l, splitList(s)...)
	return nil
}
