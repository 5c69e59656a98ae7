package main

import (
	"flag"
	"fmt"
	"io"
	"path/filepath"

	"github.com/bizra/node0/node"
)

const configUsage = `Usage: bizra config <show|check> [flags]

  show   print the effective configuration of a home as TOML, the same
         commented file bizra init writes: the home's config.toml, then the
         flags (those of bizra start), over the defaults
  check  read and validate a home's config.toml, starting nothing: print
         every problem and exit 1, or say that it is valid

  bizra config show [--home DIR] [--log.level L] [--rpc.addr A] [...]
  bizra config check [--home DIR]

Run 'bizra config show -h' or 'bizra config check -h' for the flags.
`

// runConfig is `bizra config show` or `bizra config check`.
func runConfig(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		io.WriteString(stderr, configUsage)
		return fmt.Errorf("%w: say show or check", errUsage)
	}
	switch args[0] {
	case "show":
		return runConfigShow(args[1:], stdout, stderr)
	case "check":
		return runConfigCheck(args[1:], stdout, stderr)
	case "-h", "-help", "--help", "help":
		io.WriteString(stderr, configUsage)
		return flag.ErrHelp
	}
	io.WriteString(stderr, configUsage)
	return fmt.Errorf("%w: unknown subcommand %q (show or check)", errUsage, args[0])
}

func runConfigShow(args []string, stdout, stderr io.Writer) error {
	cfg, err := startConfig("config show", "config show [--home DIR] [flags of start]", args, stderr)
	if err != nil {
		return err
	}
	_, err = stdout.Write(node.EncodeConfig(&cfg))
	return err
}

func runConfigCheck(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("config check", stderr, "config check [--home DIR]")
	home := fs.String("home", defaultHome(), "home directory of the node")
	if err := parse(fs, args); err != nil {
		return err
	}
	cfg, err := loadHomeConfig(*home)
	if err != nil {
		return err
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s is valid\n", filepath.Join(*home, node.ConfigFileName))
	return nil
}

// loadHomeConfig reads the config file of a home made by bizra init.
func loadHomeConfig(home string) (node.Config, error) {
	if !node.IsHome(home) {
		return node.Config{}, fmt.Errorf("%s is not a node home (no %s); create one with `bizra init --home %s`", home, node.ConfigFileName, home)
	}
	return node.LoadConfig(home)
}
