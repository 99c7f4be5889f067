// Package kit holds what the examples share that is not part of any
// binding: starting a broker or server on the loopback interface, numbered
// and checksummed payloads and their checker, garbage-collector pressure,
// and the summary of callback timings (timing.h is its C half).
package kit

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// Server is a broker or server process this package started on 127.0.0.1.
type Server struct {
	Name string
	Addr string // 127.0.0.1:port
	Port int

	cmd    *exec.Cmd
	exited chan struct{} // closed when the process has been waited for
	out    *syncBuffer
	dir    string
}

// StartMosquitto starts the mosquitto broker on a free port of 127.0.0.1,
// without persistence. The broker's per-client queue is unbounded so that a
// slow subscriber makes the broker hold messages rather than drop them:
// every loss the examples count is then their own.
func StartMosquitto() (*Server, error) {
	return start("mosquitto", func(port int, dir string) ([]string, error) {
		conf := fmt.Sprintf(`listener %d 127.0.0.1
allow_anonymous true
persistence false
max_queued_messages 0
set_tcp_nodelay true
log_dest stderr
log_type error
log_type warning
`, port)
		path := filepath.Join(dir, "mosquitto.conf")
		if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
			return nil, err
		}
		return []string{"-c", path}, nil
	})
}

// StartNATS starts nats-server on a free port of 127.0.0.1.
func StartNATS() (*Server, error) {
	return start("nats-server", func(port int, _ string) ([]string, error) {
		return []string{"-a", "127.0.0.1", "-p", strconv.Itoa(port)}, nil
	})
}

// start runs name with the arguments args makes for a free port, and waits
// until the port accepts connections. Finding a free port and binding it
// are two steps, so another process can take the port in between: then the
// server exits at once, and start tries again on another port.
func start(name string, args func(port int, dir string) ([]string, error)) (*Server, error) {
	bin, err := lookPath(name)
	if err != nil {
		return nil, err
	}
	var lastErr error
	for range 3 {
		s, err := startOnce(name, bin, args)
		if err == nil {
			return s, nil
		}
		lastErr = err
	}
	return nil, lastErr
}

func startOnce(name, bin string, args func(port int, dir string) ([]string, error)) (*Server, error) {
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "kit-"+name+"-")
	if err != nil {
		return nil, err
	}
	argv, err := args(port, dir)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	s := &Server{
		Name:   name,
		Addr:   net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
		Port:   port,
		cmd:    exec.Command(bin, argv...),
		exited: make(chan struct{}),
		out:    &syncBuffer{},
		dir:    dir,
	}
	s.cmd.Stdout = s.out
	s.cmd.Stderr = s.out
	// If the test binary dies without running its cleanups (a panic, a
	// kill), the kernel kills the server too, so no broker outlives a run.
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := s.cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("kit: start %s: %w", name, err)
	}
	go func() {
		_ = s.cmd.Wait()
		close(s.exited)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", s.Addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return s, nil
		}
		select {
		case <-s.exited:
			os.RemoveAll(dir)
			return nil, fmt.Errorf("kit: %s exited at start: %s", name, s.out.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.Stop()
			return nil, fmt.Errorf("kit: %s did not listen on %s within 10 s: %s", name, s.Addr, s.out.String())
		}
	}
}

// Stop ends the process by its PID: SIGTERM, then SIGKILL if it has not
// exited within 5 s. It returns once the process has been waited for.
func (s *Server) Stop() {
	defer os.RemoveAll(s.dir)
	pid := s.cmd.Process.Pid
	_ = syscall.Kill(pid, syscall.SIGTERM)
	select {
	case <-s.exited:
		return
	case <-time.After(5 * time.Second):
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
	<-s.exited
}

// Output returns what the process wrote so far, for error messages.
func (s *Server) Output() string { return s.out.String() }

// FreePort returns a TCP port of 127.0.0.1 that was free a moment ago.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("kit: free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// lookPath finds a server binary. Debian installs brokers in /usr/sbin,
// which is not on every user's PATH.
func lookPath(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, dir := range []string{"/usr/sbin", "/usr/local/sbin"} {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("kit: %s not found on PATH or in /usr/sbin (apt-get install %s): %w", name, name, exec.ErrNotFound)
}

// syncBuffer keeps the first 64 KiB a server writes: enough for an error
// message, bounded however chatty the server is.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if room := 64<<10 - b.buf.Len(); room > 0 {
		b.buf.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
