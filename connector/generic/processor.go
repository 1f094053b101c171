package generic

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"sync"
	"time"

	"github.com/tonepay/tonepay"
)

// Processor is a reference processor for the Generic Pay Connector protocol:
// point a generic connector at it to try the protocol without a real one.
// It authenticates with Basic auth, answers a repeated transaction_id with
// the first answer (also while the first is still being worked on), declines
// the sandbox's magic card numbers, and records what it charged.
// GET on any path lists the records.
type Processor struct {
	Username string
	Password tonepay.Secret
	// DelayFirst holds the first request of each transaction this long before
	// answering, as a slow processor would: the connector times out and
	// retries, and must not charge twice.
	DelayFirst time.Duration
	// Parameters, when set, are sent back in every answer's "parameters"
	// object, as a processor's own extra fields (PayConnector_<key> on <Pay>'s action).
	Parameters map[string]string

	mu  sync.Mutex
	txs map[string]*transaction
	log []*Record
}

type transaction struct {
	done   chan struct{}
	answer []byte
}

// Record is what the processor did for one transaction. It keeps the last
// four digits only, as a processor's reports do.
type Record struct {
	TransactionID string `json:"transaction_id"`
	Method        string `json:"method"`
	Amount        string `json:"amount,omitempty"`
	Currency      string `json:"currency_code,omitempty"`
	Last4         string `json:"last4"`
	ChargeID      string `json:"charge_id,omitempty"`
	TokenID       string `json:"token_id,omitempty"`
	ErrorCode     string `json:"error_code,omitempty"`
	Requests      int    `json:"requests"` // including retries
}

// Declines, as the sandbox has them.
var declines = map[string][2]string{
	"4000000000000002": {"card_declined", "Your card was declined."},
	"4000000000009995": {"insufficient_funds", "Your card has insufficient funds."},
	"4000000000000119": {"processing_error", "An error occurred while processing your card."},
}

// Records returns what the processor has done, in order.
func (p *Processor) Records() []Record {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]Record, len(p.log))
	for i, r := range p.log {
		out[i] = *r
	}
	return out
}

func (p *Processor) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	user, pass, ok := r.BasicAuth()
	if !ok || subtle.ConstantTimeCompare([]byte(user), []byte(p.Username)) != 1 || !p.Password.Equal(pass) {
		w.Header().Set("WWW-Authenticate", `Basic realm="processor"`)
		http.Error(w, `{"error":"unauthorized"}`, http.StatusUnauthorized)
		return
	}
	if r.Method == http.MethodGet {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"transactions": p.Records()})
		return
	}
	if r.Method != http.MethodPost {
		http.Error(w, `{"error":"method not allowed"}`, http.StatusMethodNotAllowed)
		return
	}
	var req request
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10)).Decode(&req); err != nil || req.TransactionID == "" ||
		(req.Method != "charge" && req.Method != "tokenize") {
		http.Error(w, `{"error":"bad request"}`, http.StatusBadRequest)
		return
	}

	p.mu.Lock()
	if p.txs == nil {
		p.txs = map[string]*transaction{}
	}
	t, seen := p.txs[req.TransactionID]
	if !seen {
		t = &transaction{done: make(chan struct{})}
		p.txs[req.TransactionID] = t
		p.log = append(p.log, &Record{TransactionID: req.TransactionID, Method: req.Method})
	}
	rec := p.find(req.TransactionID)
	rec.Requests++
	p.mu.Unlock()

	if seen {
		// The same transaction again: wait for the first answer and repeat it.
		select {
		case <-t.done:
		case <-r.Context().Done():
			return
		}
	} else {
		if p.DelayFirst > 0 {
			time.Sleep(p.DelayFirst) // the work goes on even if the caller gave up
		}
		t.answer = p.answer(&req)
		close(t.done)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(t.answer)
}

func (p *Processor) find(txid string) *Record {
	for i := len(p.log) - 1; i >= 0; i-- {
		if p.log[i].TransactionID == txid {
			return p.log[i]
		}
	}
	return nil
}

// answer decides a transaction and records it.
func (p *Processor) answer(req *request) []byte {
	number := deref(req.CardNumber) + deref(req.BankAccountNumber)
	last4 := number
	if len(last4) > 4 {
		last4 = last4[len(last4)-4:]
	}
	h := sha256.Sum256([]byte(req.TransactionID))
	id := hex.EncodeToString(h[:12])
	resp := map[string]any{"error_code": nil, "error_message": nil}
	if len(p.Parameters) > 0 {
		resp["parameters"] = p.Parameters
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	rec := p.find(req.TransactionID)
	rec.Amount, rec.Currency, rec.Last4 = deref(req.Amount), deref(req.CurrencyCode), last4
	key := "token_id"
	if req.Method == "charge" {
		key = "charge_id"
	}
	if d, ok := declines[deref(req.CardNumber)]; ok {
		resp[key], resp["error_code"], resp["error_message"] = nil, d[0], d[1]
		rec.ErrorCode = d[0]
	} else if req.Method == "charge" {
		resp[key] = "ch_" + id
		rec.ChargeID = "ch_" + id
	} else {
		resp[key] = "tok_" + id
		rec.TokenID = "tok_" + id
	}
	b, _ := json.Marshal(resp)
	return b
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
