package fq

import (
	"bufio"
	"bytes"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// The async-signal-safe entry points reach no allocator, no lock, no
// one-time initialisation and nothing of cgo or the Go runtime: the
// library's C is compiled as the Go build compiles it (-O2, one
// translation unit), disassembled, and the call graph walked from each
// entry point through the object code, tail calls included. What each
// entry point can reach is logged (go test -v shows it).
func TestFastPathCallGraph(t *testing.T) {
	objdump, err := exec.LookPath("objdump")
	if err != nil {
		t.Skip("needs objdump")
	}
	obj := filepath.Join(t.TempDir(), "fq.o")
	compileC(t, "-c", "c/fq.c", "-o", obj)
	dis, err := exec.Command(objdump, "-dr", "--no-show-raw-insn", obj).Output()
	if err != nil {
		t.Fatalf("objdump: %v", err)
	}
	calls := callGraph(dis)
	forbidden := regexp.MustCompile(`^(malloc|calloc|realloc|free|posix_memalign|aligned_alloc|pthread_(mutex|cond|once|key|[gs]etspecific|rwlock|spin).*|.*cgo.*|runtime.*|crosscall.*|sem_.*|printf|fprintf)$`)
	for _, root := range []string{"foreign_post", "foreign_postv", "foreign_signal", "foreign_release"} {
		if _, ok := calls[root]; !ok {
			t.Fatalf("%s not found in the object code", root)
		}
		reached := reachable(calls, root)
		var ext, bad []string
		for f := range reached {
			if _, defined := calls[f]; !defined {
				ext = append(ext, f)
				if forbidden.MatchString(f) {
					bad = append(bad, f)
				}
			}
		}
		slices.Sort(ext)
		t.Logf("%s reaches %d functions of the library and calls outside it: %s", root, len(reached)-len(ext), strings.Join(ext, ", "))
		if len(bad) > 0 {
			t.Errorf("%s can reach %s, which is not async-signal-safe", root, strings.Join(bad, ", "))
		}
	}
}

// callGraph reads objdump -dr output: for each function defined, the
// functions it calls or jumps to, defined ones by name and the others by
// their relocation.
func callGraph(dis []byte) map[string][]string {
	head := regexp.MustCompile(`^[0-9a-f]+ <([^>]+)>:$`)
	direct := regexp.MustCompile(`\s(?:call|jmp)\s+[0-9a-f]+ <([^>+]+)>$`)
	reloc := regexp.MustCompile(`R_X86_64_(?:PLT32|PC32)\s+([A-Za-z_][A-Za-z0-9_.]*)`)
	calls := map[string][]string{}
	cur := ""
	sc := bufio.NewScanner(bytes.NewReader(dis))
	for sc.Scan() {
		line := sc.Text()
		if m := head.FindStringSubmatch(line); m != nil {
			cur = m[1]
			calls[cur] = calls[cur][:0:0]
			continue
		}
		if cur == "" {
			continue
		}
		if m := direct.FindStringSubmatch(line); m != nil && m[1] != cur {
			calls[cur] = append(calls[cur], m[1])
		} else if m := reloc.FindStringSubmatch(line); m != nil && strings.Contains(line, "PLT32") {
			calls[cur] = append(calls[cur], m[1])
		}
	}
	return calls
}

func reachable(calls map[string][]string, root string) map[string]bool {
	seen := map[string]bool{root: true}
	work := []string{root}
	for len(work) > 0 {
		f := work[len(work)-1]
		work = work[:len(work)-1]
		for _, g := range calls[f] {
			if !seen[g] {
				seen[g] = true
				work = append(work, g)
			}
		}
	}
	return seen
}
