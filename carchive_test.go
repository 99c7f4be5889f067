package foreign

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestCArchive builds testdata/carchive/lib as a c-archive and links it into
// testdata/carchive/main.c, a plain C program that includes foreign.h and
// posts from two pthreads. It checks the C ABI from the outside, as a C
// application that embeds a Go library sees it: symbols exported from the
// archive, return codes, and every accepted message delivered once.
func TestCArchive(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and links a c-archive; skipped with -short")
	}
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go command not found")
	}
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		t.Skip("gcc not found")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()

	dir := t.TempDir()
	lib := filepath.Join(dir, "carchive.a") // go build writes carchive.h beside it
	bin := filepath.Join(dir, "carchive")
	// The archive is built without -race even under go test -race: it is a
	// separate program, and the race runtime would need the C side linked
	// with it too.
	runCArchiveCmd(ctx, t, goCmd, "build", "-buildmode=c-archive", "-buildvcs=false",
		"-o", lib, "./testdata/carchive/lib")
	runCArchiveCmd(ctx, t, gcc, "-std=c11", "-Wall", "-Wextra", "-Werror", "-I.", "-I"+dir,
		"-o", bin, "testdata/carchive/main.c", lib, "-lpthread")

	checkArchiveSymbols(ctx, t, lib)

	runCtx, cancelRun := context.WithTimeout(ctx, 60*time.Second)
	defer cancelRun()
	out := runCArchiveCmd(runCtx, t, bin)
	if !strings.HasPrefix(out, "carchive: ok: 1000 messages from 2 threads, sum 500500") {
		t.Fatalf("unexpected output from the C program:\n%s", out)
	}
}

// runCArchiveCmd runs a command in the package directory and returns its
// output, failing the test with that output if the command fails.
func runCArchiveCmd(ctx context.Context, t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, out)
	}
	return string(out)
}

// checkArchiveSymbols fails the test if the archive exports a C symbol of
// the library's other than the foreign_* ABI: the library's C is one
// translation unit whose internal functions are static, so nothing of it
// can collide with a symbol of the program that links it. What cgo and the
// Go runtime define (_cgo*, x_cgo*, x_crosscall2_ptr, crosscall*, fatalf)
// and the test library's own exports (carchive_*) are not the library's.
func checkArchiveSymbols(ctx context.Context, t *testing.T, lib string) {
	t.Helper()
	nm, err := exec.LookPath("nm")
	if err != nil {
		t.Log("nm not found: symbols not checked")
		return
	}
	out := runCArchiveCmd(ctx, t, nm, "-g", "--defined-only", lib)
	abi := 0
	for line := range strings.SplitSeq(out, "\n") {
		f := strings.Fields(line)
		if len(f) != 3 || !strings.ContainsAny(f[1], "TDBRVW") {
			continue
		}
		name := f[2]
		switch {
		case strings.HasPrefix(name, "foreign_"):
			abi++
		case strings.Contains(name, ".") || strings.HasPrefix(name, "_") ||
			strings.HasPrefix(name, "x_c") || strings.HasPrefix(name, "crosscall") ||
			strings.HasPrefix(name, "carchive_") || name == "fatalf":
		default:
			t.Errorf("the archive exports %s, which is neither foreign_* nor cgo's", name)
		}
	}
	if abi < 7 {
		t.Errorf("only %d foreign_* symbols exported, want the 7 of foreign.h", abi)
	}
}
