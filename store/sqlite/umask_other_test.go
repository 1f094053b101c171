//go:build !unix

package sqlite_test

func permissiveUmask() func() { return func() {} }
