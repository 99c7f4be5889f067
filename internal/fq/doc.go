// Package fq is the protocol of the library in both languages: the
// control block and ring in C memory, the C and Go producers, the Go
// consumer, parking and waking, calls, signals, references and the one
// seam with the operating system. The typed API is the root package,
// github.com/foreigncall/foreign; read c/block.h for the protocol first.
package fq
