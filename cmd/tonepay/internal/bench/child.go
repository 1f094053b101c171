package bench

import (
	"bufio"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"time"

	"github.com/tonepay/tonepay/client"
)

// child is a further `tonepay serve` process that a measure runs on a
// store of its own (a grown SQLite file, a PostgreSQL database), as the
// bench's account, so that its callbacks reach the bench's receiver and
// verify.
type child struct {
	cmd   *exec.Cmd
	base  string
	pprof string // its pprof listener, with TONEPAY_BENCH_PROFILE set
}

// startChild runs exe serve on db with env added, and waits until it
// listens.
func (b *bench) startChild(exe, db string, env ...string) (*child, error) {
	c := &child{cmd: exec.Command(exe, "serve", "--addr", "127.0.0.1:0")}
	c.cmd.Env = append(os.Environ(), append([]string{"TONEPAY_DB=" + db, "TONEPAY_ACCOUNT_SID=" + b.sid, "TONEPAY_AUTH_TOKEN=" + b.token}, env...)...)
	if os.Getenv("TONEPAY_BENCH_PROFILE") != "" {
		addr, err := freeAddr()
		if err != nil {
			return nil, err
		}
		c.pprof = "http://" + addr
		c.cmd.Env = append(c.cmd.Env, "TONEPAY_PPROF_ADDR="+addr)
	}
	stderr, err := c.cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := c.cmd.Start(); err != nil {
		return nil, err
	}
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		if m := listeningRE.FindStringSubmatch(sc.Text()); m != nil {
			c.base = m[1]
			go io.Copy(io.Discard, stderr)
			return c, nil
		}
	}
	c.stop()
	return nil, errors.New("tonepay serve on " + db + " did not start")
}

// stop ends the process as an operator would (its callbacks in flight
// finish or wait in the store) and waits for it.
func (c *child) stop() {
	if c.cmd.Process != nil {
		c.cmd.Process.Signal(os.Interrupt)
		c.cmd.Wait()
	}
}

// on runs fn with the bench's API pointed at c, so that the measures
// written for the main server (makeCalls, load's URLs, digitLatency) run
// against c. The measures run one at a time; nothing else uses the API
// meanwhile.
func (b *bench) on(c *child, fn func() error) error {
	base, api := b.base, b.api
	defer func() { b.base, b.api = base, api }()
	cl, err := client.New(c.base, b.sid, b.token)
	if err != nil {
		return err
	}
	cl.HTTPClient = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}, Timeout: 30 * time.Second}
	defer cl.HTTPClient.CloseIdleConnections()
	b.base, b.api = c.base, cl
	return fn()
}
