package bench

// The Go functions the C threads call. A file with //export may only declare
// in its preamble (cgo copies the preamble into two C files), so this one
// includes a header and nothing else.

/*
#include <stdint.h>
*/
import "C"

// bhGoCall is the export strategy's call: a Go function with a reply the C
// side checks, so that the call cannot be skipped or answered wrongly
// unnoticed, and no Go state that would need synchronising.
//
//export bhGoCall
func bhGoCall(seq C.uint64_t) C.uint64_t { return seq + 1 }

// bhGoSend is the export+chan strategy's call: send the message to the
// goroutine that drains sink number sink. It blocks while the channel is
// full, as such a callback would.
//
//export bhGoSend
func bhGoSend(sink C.uintptr_t, seq C.uint64_t, producer C.uint32_t) {
	sinks[sink].Load().ch <- msg{Seq: uint64(seq), Producer: uint32(producer)}
}
