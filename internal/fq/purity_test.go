package fq

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The async-signal-safe entry points allocate nothing, take no lock and
// write only to wake a parked consumer (or an interrupt's fd), counted at
// run time with the allocator, the mutexes and write(2) wrapped, over 10 M
// posts and 10 M gather-list posts into a byte ring (foreign_postv) from 2
// C threads, into busy consumers that park in the producers' pauses: see
// testdata/purity.c. The counts are logged (go test -v).
func TestFastPathAtRunTime(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "purity")
	compileC(t, "-o", bin, "testdata/purity.c", "-Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=free,"+
		"--wrap=posix_memalign,--wrap=pthread_mutex_lock,--wrap=pthread_mutex_unlock,--wrap=pthread_mutex_trylock,"+
		"--wrap=write", "-lpthread")
	n := "5000000" // per producer: 10 M posts in all
	if testing.Short() {
		n = "100000"
	}
	args := []string{n, "must-park"}
	if testing.Short() { // a slow machine or an emulator: the consumer may never run dry
		args = args[:1]
	}
	out, err := exec.Command(bin, args...).CombinedOutput()
	t.Log(strings.TrimSpace(string(out)))
	if err != nil {
		t.Fatalf("the fast path allocated, locked or wrote more than it woke: %v", err)
	}
	// The same run under strace, where the system is at hand (.ci/run
	// installs it): the system calls of every thread, the producers' writes
	// among them, counted by the kernel's side.
	if strace, err := exec.LookPath("strace"); err == nil {
		out, err := exec.Command(strace, "-f", "-qq", "--seccomp-bpf", "-c", "-e", "trace=write,read,poll,ppoll,futex,clock_nanosleep", bin, n).CombinedOutput()
		t.Logf("under strace -f -c:\n%s", out)
		if err != nil {
			t.Errorf("under strace: %v", err)
		}
	}
}
