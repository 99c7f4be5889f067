package fq

// SetFutex switches the C waits between futex(2) and the portable
// condition-variable fallback, and returns the previous setting. A test
// hook: the tests run both wait paths on Linux.
func SetFutex(on bool) (was bool) { return cSetFutex(on) }
