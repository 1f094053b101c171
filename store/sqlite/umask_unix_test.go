//go:build unix

package sqlite_test

import "syscall"

// permissiveUmask lets files be created world-readable until the returned
// func restores the umask: the file modes must not depend on it.
func permissiveUmask() func() {
	old := syscall.Umask(0)
	return func() { syscall.Umask(old) }
}
