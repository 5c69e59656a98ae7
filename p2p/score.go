package p2p

import (
	"net"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Peer scoring thresholds. A rejected message adds one to the sender's
// invalid-delivery counter in that topic; the counter counts squared with
// weight −100, so 3 rejections in a short while give −900, 4 give −1,600,
// against at most +50 that honest behaviour earns in all topics together.
// The counter decays to nothing over ten minutes.
const (
	// GossipThreshold: below it a peer gets no gossip (IHAVE/IWANT) from us.
	GossipThreshold = -500
	// PublishThreshold: below it we do not publish to the peer.
	PublishThreshold = -1000
	// GraylistThreshold: below it we ignore everything the peer sends.
	GraylistThreshold = -2500
	// DisconnectThreshold: below it the host disconnects the peer and
	// refuses it for Config.BanDuration. It equals PublishThreshold: a peer
	// we would not even publish to is not worth a connection.
	DisconnectThreshold = PublishThreshold

	invalidMessageWeight = -100
	topicScoreCap        = 50
	scoreInspectInterval = time.Second
)

// peerScoreParams are the peer-level parameters, with app as the
// application-specific score (weight 1: the host's penalty points,
// negated). Peers on the loopback network are exempt from the IP
// colocation penalty, so that a local testnet of many nodes on one machine
// is not penalised for it.
func peerScoreParams(app func(peer.ID) float64) *pubsub.PeerScoreParams {
	_, lo4, _ := net.ParseCIDR("127.0.0.0/8")
	_, lo6, _ := net.ParseCIDR("::1/128")
	return &pubsub.PeerScoreParams{
		Topics:                      make(map[string]*pubsub.TopicScoreParams),
		TopicScoreCap:               topicScoreCap,
		AppSpecificScore:            app,
		AppSpecificWeight:           1,
		IPColocationFactorWeight:    -10,
		IPColocationFactorThreshold: 8,
		IPColocationFactorWhitelist: []*net.IPNet{lo4, lo6},
		BehaviourPenaltyWeight:      -10,
		BehaviourPenaltyThreshold:   6,
		BehaviourPenaltyDecay:       pubsub.ScoreParameterDecay(10 * time.Minute),
		DecayInterval:               pubsub.DefaultDecayInterval,
		DecayToZero:                 pubsub.DefaultDecayToZero,
		RetainScore:                 10 * time.Minute,
	}
}

// topicScoreParams are the same for every topic: a little credit for time
// in the mesh (at most +3) and for first deliveries (at most +20), heavy
// weight on invalid messages. Mesh delivery rates are not scored, because
// consensus topics are quiet between rounds.
func topicScoreParams() *pubsub.TopicScoreParams {
	return &pubsub.TopicScoreParams{
		TopicWeight:                    1,
		TimeInMeshWeight:               0.01,
		TimeInMeshQuantum:              time.Second,
		TimeInMeshCap:                  300,
		FirstMessageDeliveriesWeight:   1,
		FirstMessageDeliveriesDecay:    pubsub.ScoreParameterDecay(time.Minute),
		FirstMessageDeliveriesCap:      20,
		InvalidMessageDeliveriesWeight: invalidMessageWeight,
		InvalidMessageDeliveriesDecay:  pubsub.ScoreParameterDecay(10 * time.Minute),
	}
}

func peerScoreThresholds() *pubsub.PeerScoreThresholds {
	return &pubsub.PeerScoreThresholds{
		GossipThreshold:             GossipThreshold,
		PublishThreshold:            PublishThreshold,
		GraylistThreshold:           GraylistThreshold,
		AcceptPXThreshold:           100,
		OpportunisticGraftThreshold: 5,
	}
}
