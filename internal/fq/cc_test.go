package fq

import (
	"os/exec"
	"testing"
)

// compileC runs gcc on the library's C as the Go build compiles it (-O2,
// the package's include paths) with the arguments given, and skips the
// test where gcc is missing.
func compileC(t *testing.T, args ...string) {
	t.Helper()
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		t.Skip("needs gcc")
	}
	args = append([]string{"-O2", "-g", "-std=gnu11", "-D_GNU_SOURCE", "-Ic", "-I../.."}, args...)
	if out, err := exec.Command(gcc, args...).CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v\n%s", err, out)
	}
}
