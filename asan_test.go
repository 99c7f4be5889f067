//go:build asan

package foreign

// underASan: AddressSanitizer does not follow the unwinding of a thread
// that pthread_cancel or pthread_exit ends inside C (glibc unwinds it
// without ASan's longjmp hooks), and then reports on the stale stack. The
// tests that end blocked threads run without it (and under -race).
const underASan = true
