package mediastream

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/tonepay/tonepay/internal/legaudio"
)

// TestFlood: more than 100 frames in each of 3 seconds in a row is a
// flood; 2 such seconds, or a quiet second between, are not.
func TestFlood(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	run := func(perSecond []int) (flooded bool) {
		var f flood
		for sec, n := range perSecond {
			for i := range n {
				at := t0.Add(time.Duration(sec)*time.Second + time.Duration(i)*time.Second/time.Duration(n+1))
				if f.frame(at) {
					return true
				}
			}
		}
		return false
	}
	tests := []struct {
		name string
		secs []int
		want bool
	}{
		{"Twilio's pace", []int{50, 51, 50, 50, 50}, false},
		{"three seconds over", []int{101, 101, 101}, true},
		{"two seconds over", []int{150, 150, 50, 150}, false},
		{"at the limit", []int{100, 100, 100, 100}, false},
		{"a burst in one second", []int{1000}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := run(tt.secs); got != tt.want {
				t.Errorf("flood %v, want %v", got, tt.want)
			}
		})
	}
}

// TestPlayerBargeInFramesWhole: the player's media (its own goroutine) and
// a barge-in's clear (the reader's) are written over one socket at once;
// every frame the peer gets is whole. They once shared one buffer
// unguarded, and Twilio got a media frame overwritten by a clear.
func TestPlayerBargeInFramesWhole(t *testing.T) {
	const frames = 300
	got := make(chan []byte, 4*frames)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		for {
			_, b, err := c.Read(r.Context())
			if err != nil {
				close(got)
				return
			}
			got <- b
		}
	}))
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	s := &stream{r: &Receiver{}, conn: conn, ctx: ctx, streamSid: "MZ00000000000000000000000000000001"}
	p := &player{Queue: legaudio.NewQueue(), s: s, done: make(chan struct{})}
	audio := make([]byte, legaudio.FrameBytes)
	var wg sync.WaitGroup
	wg.Go(func() {
		for range frames {
			p.write(MediaFrame(s.streamSid, Media{}, audio))
		}
	})
	wg.Go(func() {
		for range frames {
			p.write(&Frame{Event: EventClear, StreamSid: s.streamSid})
		}
	})
	wg.Wait()
	conn.Close(websocket.StatusNormalClosure, "")
	counts := map[string]int{}
	for b := range got {
		f, _, err := Parse(b)
		if err != nil || f.StreamSid != s.streamSid {
			t.Fatalf("a frame that is not whole: %q (%v)", b, err)
		}
		counts[f.Event]++
	}
	if counts[EventMedia] != frames || counts[EventClear] != frames {
		t.Errorf("frames %v, want %d of each", counts, frames)
	}
}
