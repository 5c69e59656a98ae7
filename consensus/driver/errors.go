package driver

import "errors"

// ErrUnsafeState is returned when the persisted consensus state does not
// fit the store: signing could contradict what this validator signed
// before, so the driver refuses to start.
var ErrUnsafeState = errors.New("driver: unsafe consensus state")
