package sqlite

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"
)

// Options tunes how the Store keeps its write-ahead log small and card data
// erased. The zero value gives the defaults DESIGN §8 promises.
type Options struct {
	// EraseWithin bounds how long the older row versions of a session that
	// ended (Sealed dropped) may stay in the files: the WAL keeps every
	// version of a page until it is truncated. Default 30 s, at most 60 s.
	EraseWithin time.Duration
	// WALLimit is the WAL size at which the committer checkpoints it
	// between two batches and the log starts again at the beginning of the
	// file. Default 16 MiB, which keeps the file far below 64 MiB under any
	// load.
	WALLimit int64
	// IdleAfter is how long without writes before the WAL is checkpointed
	// and truncated, so an idle store's WAL is empty. Default 5 s.
	IdleAfter time.Duration
}

const (
	defaultEraseWithin = 30 * time.Second
	maxEraseWithin     = 60 * time.Second
	defaultWALLimit    = 16 << 20
	defaultIdleAfter   = 5 * time.Second

	// A checkpoint that can wait for readers waits this long at most: they
	// are short, and a writer held up longer costs more than a retry.
	ckptWait = 10 * time.Millisecond
	// When the bound is near (or the WAL has grown twice past its limit),
	// the checkpoint waits this long instead: writers stall rather than the
	// promise break.
	ckptWaitUrgent = time.Second
	// A failed checkpoint is tried again after this long at the earliest.
	ckptRetry = 50 * time.Millisecond
)

func (o Options) withDefaults() (Options, error) {
	if o.EraseWithin == 0 {
		o.EraseWithin = defaultEraseWithin
	}
	if o.EraseWithin < 0 || o.EraseWithin > maxEraseWithin {
		return o, fmt.Errorf("sqlite.Open: EraseWithin %v is outside (0, %v]", o.EraseWithin, maxEraseWithin)
	}
	if o.WALLimit <= 0 {
		o.WALLimit = defaultWALLimit
	}
	if o.IdleAfter <= 0 {
		o.IdleAfter = defaultIdleAfter
	}
	return o, nil
}

// walState is the committer's view of the WAL: when it last wrote and the
// oldest session end whose older row versions may still be in the files.
// Only the committer goroutine touches it (the fns of its batches included).
//
// Times here are the machine's monotonic clock, not Store.Now: they arm
// timers, and the promise is about real seconds on disk.
type walState struct {
	opts      Options
	path      string    // the -wal file; "" for ":memory:"
	shm       string    // the -shm file
	dirty     bool      // written since the last truncation
	lastWrite time.Time // end of the last batch
	ended     time.Time // oldest session end not yet erased; zero if none
	retryAt   time.Time // no checkpoint before this (the last one failed)
	fails     int       // checkpoints failed in a row
}

// noteEnded records that a session's sealed data was dropped in the batch
// being committed.
func (w *walState) noteEnded(now time.Time) {
	if w.ended.IsZero() {
		w.ended = now
	}
}

// due reports how the WAL should be checkpointed now ("" if not at all),
// and how long the checkpoint may wait for readers. Erasing and idleness
// truncate the file; size alone restarts the log at its start, keeping the
// file (commits that overwrite it fsync faster than ones that extend it).
func (w *walState) due(now time.Time) (mode string, wait time.Duration) {
	if w.path == "" || now.Before(w.retryAt) {
		return "", 0
	}
	// Each failure in a row doubles the wait: a reader slower than the last
	// wait is outwaited in a few tries, and writers stall long only when
	// short waits have failed.
	wait = min(ckptWait<<min(w.fails, 10), ckptWaitUrgent)
	ended := now.Sub(w.ended)
	switch {
	case !w.ended.IsZero() && ended >= w.opts.EraseWithin*3/4:
		return "TRUNCATE", ckptWaitUrgent
	case !w.ended.IsZero() && ended >= w.opts.EraseWithin/2,
		w.dirty && now.Sub(w.lastWrite) >= w.opts.IdleAfter:
		return "TRUNCATE", wait
	}
	if size := w.logSize(); size >= 2*w.opts.WALLimit {
		return "RESTART", ckptWaitUrgent
	} else if size >= w.opts.WALLimit {
		return "RESTART", wait
	}
	return "", 0
}

// next is when the committer must wake up, idle, to truncate; ok is false
// when nothing waits.
func (w *walState) next() (at time.Time, ok bool) {
	if w.path == "" {
		return
	}
	pick := func(t time.Time) {
		if !ok || t.Before(at) {
			at, ok = t, true
		}
	}
	if !w.ended.IsZero() {
		pick(w.ended.Add(w.opts.EraseWithin / 2))
	}
	if w.dirty {
		pick(w.lastWrite.Add(w.opts.IdleAfter))
	}
	if ok && at.Before(w.retryAt) {
		at = w.retryAt
	}
	return
}

// size is the -wal file's size.
func (w *walState) size() int64 {
	fi, err := os.Stat(w.path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// logSize is the size of the log in the -wal: the file's, except after a
// restart, when the log starts again at the beginning of a file that keeps
// its size. The log's last frame is read from the WAL index in the -shm
// (mxFrame and the page size, at offsets 16 and 14 of its header: see
// https://sqlite.org/walformat.html), only when the file is large enough to
// matter.
func (w *walState) logSize() int64 {
	size := w.size()
	if size < w.opts.WALLimit {
		return size
	}
	f, err := os.Open(w.shm)
	if err != nil {
		return size
	}
	defer f.Close()
	var hdr [24]byte
	if _, err := f.ReadAt(hdr[:], 0); err != nil {
		return size
	}
	page := int64(binary.NativeEndian.Uint16(hdr[14:]))
	if page == 1 {
		page = 1 << 16
	}
	frames := int64(binary.NativeEndian.Uint32(hdr[16:]))
	return min(size, 32+frames*(24+page))
}

// checkpoint copies the whole WAL into the database and then, mode
// RESTART, makes the next commit write the log from the start of the file,
// or, mode TRUNCATE, truncates the file to zero bytes. It runs on the writer
// connection between batches: no frame is added meanwhile, and only readers
// that began before can hold it up, for wait at most. With secure_delete, a
// truncation leaves no freed copy of a row in the database either: the
// sealed values of ended sessions are gone from every file. It reports
// whether it completed.
func (s *Store) checkpoint(mode string, wait time.Duration) bool {
	if _, err := s.write.Exec(fmt.Sprintf(`PRAGMA busy_timeout = %d`, wait.Milliseconds())); err != nil {
		return false
	}
	var busy, log, done int
	err := s.write.QueryRow(`PRAGMA wal_checkpoint(`+mode+`)`).Scan(&busy, &log, &done)
	s.write.Exec(fmt.Sprintf(`PRAGMA busy_timeout = %d`, busyTimeout.Milliseconds()))
	return err == nil && busy == 0
}

// maintain checkpoints the WAL when it is due, from the committer between
// batches.
func (s *Store) maintain() {
	now := time.Now()
	w := &s.wal
	mode, wait := w.due(now)
	if mode == "" {
		return
	}
	ok := s.checkpoint(mode, wait)
	switch {
	case !ok:
		// Not before the next batch nor ckptRetry, and never stalling the
		// writers more than half the time, whatever holds the WAL (another
		// process's open read transaction may, for as long as it likes).
		w.retryAt, w.fails = now.Add(max(ckptRetry, wait)), w.fails+1
	case mode == "TRUNCATE":
		w.dirty, w.ended, w.retryAt, w.fails = false, time.Time{}, time.Time{}, 0
		// The writer's page cache (up to 64 MiB) lives in SQLite's own
		// allocator, outside Go's heap: give it back once the store is
		// quiet, so a peak's memory does not stay resident for good. The
		// next writes read their pages again from the OS's file cache.
		s.write.Exec(`PRAGMA shrink_memory`)
	default:
		w.retryAt, w.fails = time.Time{}, 0
	}
}

// scrubbed is the user_version of a file that secure_delete has kept free
// of freed row versions since it was created, or since a VACUUM.
const scrubbed = 1

// scrub rewrites, once, a database that an older build wrote without
// secure_delete: its free space may still hold row versions of sessions
// that ended long ago, sealed values included. VACUUM copies the live rows
// into a new file (a temporary one, deleted as soon as it is opened, rather
// than memory: the database may be large) and writes it back over the
// database, truncated to its new size; the committer's first truncation of
// the WAL follows (see OpenWith). A new file is only marked.
func (s *Store) scrub() error {
	var version, pages int
	if err := s.write.QueryRow(`PRAGMA user_version`).Scan(&version); err != nil || version >= scrubbed {
		return err
	}
	if err := s.write.QueryRow(`PRAGMA page_count`).Scan(&pages); err != nil {
		return err
	}
	if pages > 0 {
		if _, err := s.write.Exec(`PRAGMA temp_store = FILE`); err != nil {
			return err
		}
		_, err := s.write.Exec(`VACUUM`)
		if _, err2 := s.write.Exec(`PRAGMA temp_store = MEMORY`); err == nil {
			err = err2
		}
		if err != nil {
			return fmt.Errorf("scrubbing a file of an older build: %w", err)
		}
	}
	_, err := s.write.Exec(fmt.Sprintf(`PRAGMA user_version = %d`, scrubbed))
	return err
}

// privateFiles makes the database and its -wal and -shm files readable by
// their owner only: they hold auth tokens and, sealed, card data. The
// database is created here, 0600, if missing; SQLite creates the -wal and
// -shm later with the database's mode (it sets the mode explicitly, the
// umask aside), and those left by an earlier run are fixed here.
func privateFiles(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	f.Close()
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		if err := os.Chmod(p, 0o600); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}
