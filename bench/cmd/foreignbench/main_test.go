package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// tiny is a workload that runs every scenario in well under a second: the
// tests check the flags and the output formats, never the timings.
var tiny = []string{"-scale", "tiny", "-reps", "1", "-producers", "1,2", "-quiet"}

func runCLI(t *testing.T, args ...string) (string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	if err := run(append(append([]string{}, tiny...), args...), &out, &errOut); err != nil {
		t.Fatalf("run %q: %v\nstderr: %s", args, err, errOut.String())
	}
	return out.String(), errOut.String()
}

func TestTable(t *testing.T) {
	out, errOut := runCLI(t)
	for _, want := range []string{
		"GOMAXPROCS", "Throughput", "Producer-side latency", "A fresh thread per event",
		"Call round trip", "Wake-up latency", "Targets from the design brief",
		"c-ring", "foreign-go", "export+chan", "eventfd", "pipe", "async", "mutex+cond",
		"foreign_call", "cond-handshake", "vs c-ring", "p99.99",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q", want)
		}
	}
	if errOut != "" {
		t.Errorf("stderr not empty with -quiet: %q", errOut)
	}
}

func TestJSON(t *testing.T) {
	out, _ := runCLI(t, "-json", "-scenarios", "throughput,latency", "-loads", "none")
	var r Report
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, out)
	}
	if r.Machine.GOMAXPROCS < 1 || r.Machine.GoVersion == "" || r.Reps != 1 {
		t.Errorf("machine %+v, reps %d", r.Machine, r.Reps)
	}
	var tput, lat int
	for _, c := range r.Cells {
		switch c.Scenario {
		case scThroughput:
			tput++
			if len(c.EventsPerSec) != 1 || !(c.Median > 0) {
				t.Errorf("throughput cell %+v", c)
			}
		case scLatency:
			lat++
			if c.Latency == nil || c.Latency.Samples == 0 || len(c.RepPcts) != 1 {
				t.Errorf("latency cell %+v", c)
			}
		default:
			t.Errorf("cell of scenario %q not asked for", c.Scenario)
		}
	}
	if tput == 0 || lat == 0 {
		t.Errorf("%d throughput cells, %d latency cells", tput, lat)
	}
	if len(r.Targets) == 0 {
		t.Error("no targets")
	}
}

func TestBenchFormat(t *testing.T) {
	out, _ := runCLI(t, "-format", "bench", "-strategies", "foreign,pipe")
	line := regexp.MustCompile(`^Benchmark\S+\s+\d+\s+[\d.]+ \S+`)
	n := 0
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if strings.HasPrefix(l, "goos:") || strings.HasPrefix(l, "cpu:") || strings.HasPrefix(l, "pkg:") {
			continue
		}
		if !line.MatchString(l) {
			t.Errorf("not a benchmark line: %q", l)
		}
		if strings.Contains(l, "strategy=eventfd") {
			t.Errorf("-strategies did not filter: %q", l)
		}
		n++
	}
	if n == 0 {
		t.Error("no benchmark lines")
	}
}

func TestPlot(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"chart.svg", "chart.png"} {
		file := filepath.Join(dir, name)
		runCLI(t, "-scenarios", "throughput,latency,wake", "-loads", "none", "-plot", file)
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var ok bool
		if strings.HasSuffix(name, ".png") {
			ok = bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n"))
		} else {
			ok = bytes.Contains(b[:min(len(b), 512)], []byte("<svg"))
		}
		if !ok || len(b) < 1000 {
			t.Errorf("%s: %d bytes, not a valid image", name, len(b))
		}
	}
}

func TestProgressOn(t *testing.T) {
	var out, errBuf bytes.Buffer
	if err := run([]string{"-scale", "tiny", "-reps", "1", "-progress", "on", "-scenarios", "fresh"}, &out, &errBuf); err != nil {
		t.Fatal(err)
	}
	errOut := errBuf.String()
	if !strings.Contains(errOut, "%") || !strings.Contains(errOut, "[") {
		t.Errorf("no progress bar on stderr: %q", errOut)
	}
}

func TestBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-scenarios", "nope"},
		{"-strategies", "carrier-pigeon"},
		{"-producers", "0"},
		{"-producers", "x"},
		{"-loads", "heavy"},
		{"-scale", "-1"},
		{"-scale", "huge"},
		{"-reps", "0"},
		{"-format", "xml"},
		{"-json", "-format", "bench"},
		{"-plot", "chart.pdf"},
		{"-progress", "sometimes"},
		{"-duration", "-1s"},
		{"-no-such-flag"},
		{"extra"},
	} {
		var out, errOut bytes.Buffer
		if err := run(args, &out, &errOut); err == nil {
			t.Errorf("run %q: no error", args)
		}
		if out.Len() != 0 {
			t.Errorf("run %q wrote to stdout: %q", args, out.String())
		}
	}
}
