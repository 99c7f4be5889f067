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
		"Byte strings", "Byte posts seen by the C thread", "foreign_post", "foreign_postv",
		"export+GoBytes", "export+pool", "seqpacket", "memcpy", "vs best alt", "bytes vs best alternative",
		"bytes MB/s vs memcpy, size=64 KiB producers=2",
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

// TestBytesJSON checks the byte-string scenario's cells: every size and
// producer count, memcpy once per size, MB/s beside messages/s, and the
// latency cells apart.
func TestBytesJSON(t *testing.T) {
	out, _ := runCLI(t, "-json", "-scenarios", "bytes", "-sizes", "16,4096")
	var r Report
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, out)
	}
	cases := map[string]int{}
	var lat int
	for _, c := range r.Cells {
		switch c.Scenario {
		case scBytes:
			cases[c.Case]++
			if c.Size != 16 && c.Size != 4096 {
				t.Errorf("cell of %d bytes", c.Size)
			}
			if len(c.EventsPerSec) != 1 || len(c.MBPerSec) != 1 || !(c.Median > 0) {
				t.Errorf("bytes cell %+v", c)
			}
			if got, want := c.MedianMB, c.Median*float64(c.Size)/1e6; got < 0.999*want || got > 1.001*want {
				t.Errorf("%s %s: %.1f MB/s for %.0f msgs/s of %d bytes", c.Case, c.Strategy, got, c.Median, c.Size)
			}
			if c.Strategy == "memcpy" && !strings.HasSuffix(c.Case, "producers=1") {
				t.Errorf("memcpy in case %q", c.Case)
			}
		case scBytesLat:
			lat++
			if c.Latency == nil || c.Latency.Samples == 0 || c.Size != bytesLatSize {
				t.Errorf("bytes latency cell %+v", c)
			}
		default:
			t.Errorf("cell of scenario %q not asked for", c.Scenario)
		}
	}
	if len(cases) != 4 || cases[bytesCase(16, 1)] != 7 || cases[bytesCase(4096, 2)] != 6 {
		t.Errorf("cases %v", cases)
	}
	if lat != 7 {
		t.Errorf("%d bytes latency cells, want 7", lat)
	}
	var bt int
	for _, tg := range r.Targets {
		if strings.HasPrefix(tg.Name, "bytes") {
			bt++
		}
	}
	if bt != 5 { // 4 cases against the best alternative, and allocations
		t.Errorf("%d byte targets, want 5: %+v", bt, r.Targets)
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
		runCLI(t, "-scenarios", "throughput,latency,wake,bytes", "-sizes", "16,4096", "-loads", "none", "-plot", file)
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
		{"-sizes", "8"},
		{"-sizes", "big"},
		{"-sizes", "2000000"},
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
