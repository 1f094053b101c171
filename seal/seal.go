// Package seal encrypts captured payment data at rest with AES-256-GCM. A
// sealed value is bound to the session it belongs to (the session SID is the
// additional data), so a ciphertext copied onto another row does not open.
package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"

	"github.com/tonepay/tonepay"
)

var _ tonepay.Sealer = (*Box)(nil)

// Box seals and opens with one 32-byte data key.
type Box struct{ aead cipher.AEAD }

// New returns a Box for a 32-byte key.
func New(key []byte) (*Box, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("seal: the data key must be 32 bytes, not %d", len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Box{aead}, nil
}

// Seal encrypts plaintext for the session sid: a random nonce, then the
// ciphertext and tag.
func (b *Box) Seal(sid string, plaintext []byte) []byte {
	nonce := make([]byte, b.aead.NonceSize(), b.aead.NonceSize()+len(plaintext)+b.aead.Overhead())
	rand.Read(nonce)
	return b.aead.Seal(nonce, nonce, plaintext, []byte(sid))
}

// Open decrypts what Seal made for the same sid.
func (b *Box) Open(sid string, sealed []byte) ([]byte, error) {
	n := b.aead.NonceSize()
	if len(sealed) < n+b.aead.Overhead() {
		return nil, errors.New("seal: sealed data is too short")
	}
	out, err := b.aead.Open(nil, sealed[:n], sealed[n:], []byte(sid))
	if err != nil {
		return nil, errors.New("seal: cannot open sealed data (wrong key or session)")
	}
	return out, nil
}
