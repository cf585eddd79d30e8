package cache

import (
	"runtime"
	"testing"
)

// An answer's encoding is made once while a stream holds it, and not kept
// once nobody does: memory follows what is being sent.
func TestEncodingIsKeptOnlyWhileHeld(t *testing.T) {
	var m encodingMemo
	encodes := 0
	encode := func() ([]byte, error) {
		encodes++
		return make([]byte, 1<<16), nil
	}
	held, err := m.get(encode)
	if err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	again, _ := m.get(encode)
	if again != held || encodes != 1 {
		t.Fatalf("a held encoding was made again (%d encodings)", encodes)
	}
	runtime.KeepAlive(held)
	runtime.GC()
	if m.w.Value() != nil {
		t.Fatal("an encoding nobody holds is still kept after a collection")
	}
	if _, err := m.get(encode); err != nil || encodes != 2 {
		t.Fatalf("after a collection: %d encodings (%v), want 2", encodes, err)
	}
}
