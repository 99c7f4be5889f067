// csources.go: makes the C under c/ part of the package's build. cgo
// compiles c/fq.c through the preamble of cgo.go, but the go command's
// build cache hashes only the files of the package directory itself, so a
// change under c/ alone would reuse a stale build. Embedded files are
// hashed: embedding c/ makes every change there rebuild the package. The
// variable is never read, and the linker drops it from programs.

package fq

import "embed"

//go:embed c
//lint:ignore U1000 embedded for the build cache's sake (above), never read
var cSources embed.FS
