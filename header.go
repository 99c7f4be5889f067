// header.go: the text of foreign.h, for cmd/foreignh.

package foreign

import _ "embed"

//go:embed foreign.h
var header string

// CHeader returns the text of foreign.h, the C ABI of this version of the
// package. cmd/foreignh writes it into a cgo package's directory, so that
// the header a C caller compiles against always matches the library it
// links.
func CHeader() string { return header }
