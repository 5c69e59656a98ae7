package consensus

import "errors"

// Errors of the core.
var (
	ErrDecode       = errors.New("consensus: malformed message")
	ErrBadSignature = errors.New("consensus: bad signature")
	ErrNotValidator = errors.New("consensus: sender is not a validator")
	ErrWrongLeader  = errors.New("consensus: proposal not from the round's leader")
	ErrNoQuorum     = errors.New("consensus: certificate without a quorum")
	ErrStale        = errors.New("consensus: message for a decided height")
	ErrInvalidState = errors.New("consensus: invalid call")
)
