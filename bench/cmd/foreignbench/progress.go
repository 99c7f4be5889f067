package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// progress draws a one-line bar on stderr while the run goes, only when
// asked to or when stderr is a terminal: redirected to a file, the
// carriage returns would be noise.
type progress struct {
	w    io.Writer // nil: off
	n, i int
	t0   time.Time
}

func newProgress(w io.Writer, mode string) *progress {
	on := mode == "on"
	if mode == "auto" {
		if f, ok := w.(*os.File); ok {
			if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
				on = true
			}
		}
	}
	if !on {
		return &progress{}
	}
	return &progress{w: w}
}

func (p *progress) start(n int) { p.n, p.t0 = n, time.Now() }

func (p *progress) step(label string) {
	if p.w == nil || p.n == 0 {
		return
	}
	const width = 30
	fill := p.i * width / p.n
	eta := ""
	if p.i > 0 {
		left := time.Duration(float64(time.Since(p.t0)) / float64(p.i) * float64(p.n-p.i))
		eta = fmt.Sprintf(" ~%ds left", int(left.Seconds()+0.5))
	}
	fmt.Fprintf(p.w, "\r\x1b[K[%s%s] %3d%% %s%s", strings.Repeat("#", fill), strings.Repeat("-", width-fill),
		p.i*100/p.n, label, eta)
	p.i++
}

func (p *progress) done() {
	if p.w != nil && p.n > 0 {
		fmt.Fprint(p.w, "\r\x1b[K")
	}
}
