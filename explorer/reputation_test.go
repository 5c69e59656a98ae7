package explorer

import "testing"

func TestWindowScores(t *testing.T) {
	w := newWindow(4)
	// Two validators of equal stake; a proposes every block, b signs half.
	for i := 0; i < 4; i++ {
		signers := []string{"a"}
		if i%2 == 0 {
			signers = append(signers, "b")
		}
		w.add("0xa", signers)
	}
	pa, ra := w.score("0xa", "a", 0.5)
	pb, rb := w.score("0xb", "b", 0.5)
	if pa == nil || *pa != 1 || ra != 100 {
		t.Fatalf("a: participation %v reputation %v, want 1 and 100", pa, ra)
	}
	if pb == nil || *pb != 0.5 || rb != 35 {
		t.Fatalf("b: participation %v reputation %v, want 0.5 and 35", pb, rb)
	}
	// The window slides: four blocks proposed by b and signed by both push
	// a's proposals out.
	for i := 0; i < 4; i++ {
		w.add("0xb", []string{"a", "b"})
	}
	if _, ra := w.score("0xa", "a", 0.5); ra != 70 {
		t.Fatalf("a after sliding: reputation %v, want 70", ra)
	}
	if _, rb := w.score("0xb", "b", 0.5); rb != 100 {
		t.Fatalf("b after sliding: reputation %v, want 100", rb)
	}
	if len(w.proposed) != 1 || w.certified != 4 || w.n != 4 {
		t.Fatalf("window counts %+v", w)
	}
	// A clone is independent.
	c := w.clone()
	c.add("0xa", []string{"a"})
	if w.proposed["0xa"] != 0 || c.proposed["0xa"] != 1 || w.proposed["0xb"] != 4 || c.proposed["0xb"] != 3 {
		t.Fatalf("clone shares state: %v %v", w.proposed, c.proposed)
	}
}

func TestWindowNoCertificates(t *testing.T) {
	w := newWindow(10)
	w.add("0x0", nil) // genesis: no certificate, no real proposer
	part, rep := w.score("0xa", "a", 1)
	if part != nil || rep != 0 {
		t.Fatalf("participation %v reputation %v before any certificate", part, rep)
	}
	// Genesis does not dilute the proposals of the first certified block.
	w.add("0xa", []string{"a"})
	if part, rep := w.score("0xa", "a", 1); part == nil || *part != 1 || rep != 100 {
		t.Fatalf("after one certified block: participation %v reputation %v, want 1 and 100", part, rep)
	}
}
