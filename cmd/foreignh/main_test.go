package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/foreigncall/foreign"
)

func TestWriteAndCheck(t *testing.T) {
	dir := t.TempDir()
	if err := run(dir, true); err == nil {
		t.Fatal("check passed with no file")
	}
	if err := run(dir, false); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(dir, "foreign.h"))
	if err != nil || string(got) != foreign.CHeader() {
		t.Fatalf("written header differs: %v", err)
	}
	if err := run(dir, true); err != nil {
		t.Fatalf("check after write: %v", err)
	}
	os.WriteFile(filepath.Join(dir, "foreign.h"), []byte("old"), 0o644)
	if err := run(dir, true); err == nil {
		t.Fatal("check passed on a stale header")
	}
}

// The embedded header is the file at the module root.
func TestHeaderIsRootFile(t *testing.T) {
	root, err := os.ReadFile("../../foreign.h")
	if err != nil {
		t.Fatal(err)
	}
	if string(root) != foreign.CHeader() {
		t.Fatal("CHeader() differs from foreign.h")
	}
}
