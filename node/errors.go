package node

import (
	"errors"

	"github.com/bizra/node0/consensus/driver"
)

var (
	// ErrInvalidConfig wraps every configuration problem.
	ErrInvalidConfig = errors.New("node: invalid config")
	// ErrHomeExists is returned by Init for a home that already holds a node.
	ErrHomeExists = errors.New("node: home directory already initialised")
	// ErrHomeNotEmpty is returned by Init for a directory that holds other files.
	ErrHomeNotEmpty = errors.New("node: home directory is not empty")
	// ErrInsecureKeyFile is returned for a key file others can read or write.
	ErrInsecureKeyFile = errors.New("node: key file is accessible by group or others")
	// ErrKeyFileNotRegular is returned for a key or passphrase file that is
	// not a regular file (a directory, a named pipe, a device).
	ErrKeyFileNotRegular = errors.New("node: key file is not a regular file")
	// ErrKeyFileTooLarge is returned for a key or passphrase file larger than
	// a secret of its kind can be.
	ErrKeyFileTooLarge = errors.New("node: key file is too large")
	// ErrNotValidator is returned when the validator key is not in the genesis.
	ErrNotValidator = errors.New("node: validator key is not in the genesis validator set")
	// ErrNoTransport is returned for a multi-validator chain without a
	// transport to the other validators.
	ErrNoTransport = errors.New("node: a chain of several validators needs a transport to reach them")
	// ErrStopped is returned by operations on a stopped node.
	ErrStopped = errors.New("node: stopped")
)

// ErrUnsafeState is returned when the persisted consensus state does not
// fit the store: signing could contradict what this validator signed
// before, so the node refuses to start.
var ErrUnsafeState = driver.ErrUnsafeState
