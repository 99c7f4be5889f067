//go:build race

package kit

// Race is true in a build with the race detector, which slows cgo calls
// and Go code several times over: tests use it to run fewer messages, and
// timings from such a build are not comparable with a normal one.
const Race = true
