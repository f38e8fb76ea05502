package main

import (
	"bufio"
	"debug/elf"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// dockerfile is what the test reads from the Dockerfile to run the binary
// as the image would.
type dockerfile struct {
	uid, gid    int
	env         map[string]string
	healthcheck []string // the HEALTHCHECK command, binary first
	entrypoint  []string
	cmd         []string
}

// readDockerfile reads the instructions the image's runtime depends on.
// Only the forms Relay's Dockerfile uses are understood: exec-form
// (JSON-array) commands, numeric USER, ENV key=value.
func readDockerfile(t *testing.T, path string) dockerfile {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	d := dockerfile{uid: -1, gid: -1, env: map[string]string{}}
	text := strings.ReplaceAll(string(b), "\\\n", " ")
	exec := func(s string) []string {
		s = strings.TrimSpace(s)
		if !strings.HasPrefix(s, "[") || !strings.HasSuffix(s, "]") {
			t.Fatalf("Dockerfile: %q is not an exec-form command (no shell in the image)", s)
		}
		var out []string
		for _, f := range strings.Split(strings.Trim(s, "[]"), ",") {
			out = append(out, strings.Trim(strings.TrimSpace(f), `"`))
		}
		return out
	}
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		instr, rest, _ := strings.Cut(line, " ")
		switch strings.ToUpper(instr) {
		case "USER":
			u, g, _ := strings.Cut(strings.TrimSpace(rest), ":")
			if d.uid, err = strconv.Atoi(u); err != nil {
				t.Fatalf("Dockerfile: USER %q is not numeric (scratch has no /etc/passwd)", rest)
			}
			if d.gid, err = strconv.Atoi(g); err != nil {
				d.gid = d.uid
			}
		case "ENV":
			for _, kv := range strings.Fields(rest) {
				k, v, _ := strings.Cut(kv, "=")
				d.env[k] = v
			}
		case "HEALTHCHECK":
			_, c, ok := strings.Cut(rest, "CMD ")
			if !ok {
				t.Fatalf("Dockerfile: HEALTHCHECK without CMD: %q", rest)
			}
			d.healthcheck = exec(c)
		case "ENTRYPOINT":
			d.entrypoint = exec(rest)
		case "CMD":
			d.cmd = exec(rest)
		}
	}
	return d
}

// The image's binary is static: no program interpreter and no shared
// library, so it runs on scratch.
func checkStatic(t *testing.T, bin string) {
	t.Helper()
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatalf("open the binary as ELF: %v", err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("the binary has a program interpreter (PT_INTERP): it is dynamically linked")
		}
	}
	libs, err := f.ImportedLibraries()
	if err != nil {
		t.Fatal(err)
	}
	if len(libs) > 0 {
		t.Errorf("the binary needs shared libraries (DT_NEEDED): %v", libs)
	}
}

// The container image's recipe, checked as far as it can be without a
// container runtime: the binary built as the Dockerfile's comment says
// (CGO_ENABLED=0) is static, and run as the image runs it (its USER, its
// ENV with /data replaced by a fresh private directory owned by that user,
// the only place it may write; no /tmp, no home) it starts, becomes ready,
// passes the image's HEALTHCHECK command, and stops cleanly on SIGTERM,
// after which the check fails.
func TestImageRecipe(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the relay binary; skipped with -short")
	}
	if runtime.GOOS != "linux" {
		t.Skip("the image is linux; this checks an ELF binary and Linux credentials")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("cannot build the static binary: no go command in PATH")
	}
	df := readDockerfile(t, filepath.Join("..", "..", "Dockerfile"))
	if df.uid <= 0 {
		t.Fatalf("Dockerfile: USER must be a non-root numeric uid, got %d", df.uid)
	}
	if df.env["RELAY_DATA_DIR"] != "/data" || df.env["RELAY_ADDR"] != "0.0.0.0:8080" {
		t.Fatalf("Dockerfile ENV = %v; want RELAY_DATA_DIR=/data and RELAY_ADDR=0.0.0.0:8080", df.env)
	}
	if len(df.healthcheck) == 0 || df.healthcheck[0] != "/relay" || len(df.entrypoint) == 0 || df.entrypoint[0] != "/relay" {
		t.Fatalf("Dockerfile: HEALTHCHECK %v and ENTRYPOINT %v must run /relay", df.healthcheck, df.entrypoint)
	}

	// root holds the binary (0755, root's: the user may run it, not change
	// it) and the data dir; root itself is not writable by the user.
	root, err := os.MkdirTemp("", "relay-image-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	if err := os.Chmod(root, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(root, "relay")
	build := exec.Command(goBin, "build", "-trimpath", "-o", bin,
		"-ldflags", "-X github.com/relayhq/relay.Version=v0.0.0-imagetest -X main.buildTime=2026-12-03T00:00:00Z", ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("CGO_ENABLED=0 go build: %v\n%s", err, out)
	}
	checkStatic(t, bin)
	if t.Failed() {
		return
	}

	data := filepath.Join(root, "data")
	if err := os.Mkdir(data, 0o700); err != nil {
		t.Fatal(err)
	}
	var cred *syscall.Credential
	if os.Geteuid() == 0 {
		for dir := filepath.Dir(root); ; dir = filepath.Dir(dir) {
			if fi, err := os.Stat(dir); err == nil && fi.Mode().Perm()&0o001 == 0 {
				t.Skipf("the image's user cannot reach %s: %s is not searchable by others (set TMPDIR elsewhere)", root, dir)
			}
			if dir == filepath.Dir(dir) {
				break
			}
		}
		if err := os.Chown(data, df.uid, df.gid); err != nil {
			t.Fatal(err)
		}
		cred = &syscall.Credential{Uid: uint32(df.uid), Gid: uint32(df.gid), NoSetGroups: true}
	} else {
		t.Logf("not root: running as uid %d (already not root) instead of the image's %d; that only the data dir is writable is not checked", os.Geteuid(), df.uid)
	}
	// The image's environment, with its paths mapped to this test's; TMPDIR
	// and HOME point nowhere, as on scratch, so a write outside the data
	// dir fails.
	env := []string{"TMPDIR=" + filepath.Join(root, "no-tmp"), "HOME=" + filepath.Join(root, "no-home"), "RELAY_LOG_LEVEL=warn"}
	for k, v := range df.env {
		switch k {
		case "RELAY_DATA_DIR":
			v = data
		case "RELAY_ADDR":
			v = "127.0.0.1:0"
		}
		env = append(env, k+"="+v)
	}
	command := func(args []string) *exec.Cmd {
		c := exec.Command(bin, args...)
		c.Dir = root
		c.Env = env
		c.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		return c
	}

	out, err := command([]string{"version"}).CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "relay v0.0.0-imagetest (") || !strings.Contains(string(out), "built 2026-12-03T00:00:00Z") {
		t.Errorf("relay version: %v: %q; want the version and build time given at link time", err, out)
	}

	serve := command(append(df.entrypoint[1:], df.cmd...))
	stdout, err := serve.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := &syncBuffer{}
	serve.Stderr = stderr
	if err := serve.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	urls := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := listenRE.FindStringSubmatch(sc.Text()); m != nil {
				urls <- m[1]
			}
		}
		exited <- serve.Wait()
	}()
	t.Cleanup(func() {
		if serve.ProcessState == nil {
			_ = serve.Process.Kill()
			<-exited
		}
	})
	var url string
	select {
	case url = <-urls:
	case err := <-exited:
		t.Fatalf("relay serve exited at start: %v\nstderr:\n%s", err, stderr)
	case <-time.After(30 * time.Second):
		t.Fatalf("relay serve did not start within 30s\nstderr:\n%s", stderr)
	}
	if err := waitReady(url, 20*time.Second); err != nil {
		t.Fatalf("%v\nstderr:\n%s", err, stderr)
	}

	// The HEALTHCHECK as the image runs it, with no argument: RELAY_ADDR
	// holds the wildcard address, probed on loopback.
	port := url[strings.LastIndex(url, ":")+1:]
	check := func() (string, error) {
		c := command(df.healthcheck[1:])
		c.Env = append(append([]string(nil), env...), "RELAY_ADDR=0.0.0.0:"+port)
		out, err := c.CombinedOutput()
		return string(out), err
	}
	if out, err := check(); err != nil || out != "ready: http://127.0.0.1:"+port+"/readyz\n" {
		t.Errorf("HEALTHCHECK %v: %v: %q; want exit 0 and one line", df.healthcheck, err, out)
	}
	if fi, err := os.Stat(filepath.Join(data, "relay.db")); err != nil {
		t.Errorf("the database is not in the data dir: %v", err)
	} else if st, ok := fi.Sys().(*syscall.Stat_t); ok && cred != nil && int(st.Uid) != df.uid {
		t.Errorf("relay.db is owned by uid %d; want the image's user %d", st.Uid, df.uid)
	}

	if err := serve.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("relay serve after SIGTERM: %v; want exit 0\nstderr:\n%s", err, stderr)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("relay serve did not stop within 30s of SIGTERM")
	}
	out2, err := check()
	var exitErr *exec.ExitError
	if !errors.As(err, &exitErr) || exitErr.ExitCode() != 1 || strings.Count(strings.TrimSpace(out2), "\n") != 0 {
		t.Errorf("HEALTHCHECK of a stopped Relay: %v: %q; want exit 1 and one line", err, out2)
	}
}

// waitReady polls url's /readyz until it answers 200, for at most d.
func waitReady(url string, d time.Duration) error {
	deadline := time.Now().Add(d)
	for {
		resp, err := http.Get(url + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("/readyz not 200 within %s (last: %v)", d, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Everything the Dockerfile copies is let through by .dockerignore (which
// keeps the rest of the repository, data dirs and keys out of the build
// context), and what it copies from the repository exists.
func TestDockerfileContext(t *testing.T) {
	root := filepath.Join("..", "..")
	allowed := map[string]bool{}
	for _, line := range strings.Split(string(mustRead(t, filepath.Join(root, ".dockerignore"))), "\n") {
		if p, ok := strings.CutPrefix(strings.TrimSpace(line), "!"); ok {
			allowed[strings.TrimSuffix(p, "/")] = true
		}
	}
	built := map[string]bool{"relay": true, "ca-certificates.crt": true} // made by the build steps
	copies := 0
	for _, line := range strings.Split(string(mustRead(t, filepath.Join(root, "Dockerfile"))), "\n") {
		f := strings.Fields(line)
		if len(f) < 3 || f[0] != "COPY" {
			continue
		}
		var src []string
		for _, a := range f[1 : len(f)-1] {
			if !strings.HasPrefix(a, "--") {
				src = append(src, strings.TrimSuffix(a, "/"))
			}
		}
		for _, s := range src {
			copies++
			if !allowed[s] {
				t.Errorf("the Dockerfile copies %s, which .dockerignore keeps out of the context", s)
			}
			if built[s] {
				continue
			}
			if _, err := os.Stat(filepath.Join(root, s)); err != nil {
				t.Errorf("the Dockerfile copies %s: %v", s, err)
			}
		}
	}
	if copies == 0 {
		t.Error("the Dockerfile copies nothing")
	}
}
