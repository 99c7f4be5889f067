// errors.go: the errors the protocol returns to Go.

package fq

import (
	"errors"
	"os"
)

// The errors the protocol returns to Go callers; the root package
// re-exports them, with their documentation.
var (
	ErrClosed   = os.ErrClosed
	ErrFull     = errors.New("foreign: queue full")
	ErrDeadlock = errors.New("foreign: call would deadlock")
	ErrMsgSize  = errors.New("foreign: message too long")
)
