package node

import (
	"fmt"
	"testing"

	"github.com/bizra/node0/chain"
	"github.com/bizra/node0/mempool"
)

func TestPoolErrorMessages(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{mempool.ErrAlreadyKnown, "already known"},
		{chain.Rejectf(mempool.ErrReplaceUnderpriced, "need more"), "replacement transaction underpriced"},
		{mempool.ErrUnderpriced, "transaction underpriced"},
		{mempool.ErrShardFull, "txpool is full"},
		{mempool.ErrSenderPendingLimit, "account limit exceeded"},
		{mempool.ErrSenderQueuedLimit, "account limit exceeded"},
		{mempool.ErrNonceTooFar, "nonce too high"},
		{fmt.Errorf("something else"), ""},
	} {
		if got := poolMessages.Message(tc.err); got != tc.want {
			t.Errorf("%v: got %q, want %q", tc.err, got, tc.want)
		}
	}
}
