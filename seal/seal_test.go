package seal

import (
	"bytes"
	"testing"
)

func TestSealOpen(t *testing.T) {
	key := bytes.Repeat([]byte{7}, 32)
	b, err := New(key)
	if err != nil {
		t.Fatal(err)
	}
	secret := []byte(`{"payment-card-number":"4242424242424242"}`)
	s1, s2 := b.Seal("PK1", secret), b.Seal("PK1", secret)
	if bytes.Contains(s1, []byte("4242")) || bytes.Equal(s1, s2) {
		t.Fatal("sealed data shows the plaintext, or two seals are equal (nonce reuse)")
	}
	if got, err := b.Open("PK1", s1); err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("Open = %q, %v", got, err)
	}
	if _, err := b.Open("PK2", s1); err == nil {
		t.Error("opened with another session's sid")
	}
	other, _ := New(bytes.Repeat([]byte{8}, 32))
	if _, err := other.Open("PK1", s1); err == nil {
		t.Error("opened with another key")
	}
	s1[len(s1)-1] ^= 1
	if _, err := b.Open("PK1", s1); err == nil {
		t.Error("opened tampered data")
	}
	if _, err := b.Open("PK1", []byte("short")); err == nil {
		t.Error("opened garbage")
	}
	if _, err := New(key[:16]); err == nil {
		t.Error("accepted a 16-byte key")
	}
}
