// Command foreignh writes foreign.h, the C ABI of github.com/foreigncall/foreign,
// into a directory, so that cgo code in another package can #include it.
//
// Use it from the package whose C code calls foreign_post:
//
//	//go:generate go run github.com/foreigncall/foreign/cmd/foreignh
//
// The header comes from the version of the module in go.mod, so it always
// matches the library that is linked in.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/foreigncall/foreign"
)

func main() {
	log.SetFlags(0)
	log.SetPrefix("foreignh: ")
	dir := flag.String("dir", ".", "directory to write foreign.h into")
	check := flag.Bool("check", false, "do not write; exit 1 if the file is missing or differs")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: foreignh [-dir DIR] [-check]\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 0 {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(*dir, *check); err != nil {
		log.Fatal(err)
	}
}

func run(dir string, check bool) error {
	path := filepath.Join(dir, "foreign.h")
	want := []byte(foreign.CHeader())
	have, err := os.ReadFile(path)
	if check {
		if err != nil {
			return err
		}
		if !bytes.Equal(have, want) {
			return fmt.Errorf("%s differs from the library's header; run go generate", path)
		}
		return nil
	}
	if err == nil && bytes.Equal(have, want) {
		return nil // unchanged: keep the file's time stamp, and the build cache
	}
	return os.WriteFile(path, want, 0o644)
}
