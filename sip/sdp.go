package sip

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/pion/sdp/v3"
)

// offer is what tonepay needs of a caller's SDP offer.
type offer struct {
	rtp    netip.AddrPort   // where the caller receives RTP
	codecs map[string]uint8 // audio codecs offered (PCMU, PCMA), by name
	te     int              // telephone-event/8000 payload type; -1 none
	dir    string           // sendrecv, sendonly, recvonly or inactive
}

var errNoAudio = errors.New("no audio stream in the SDP offer")

// parseOffer reads the first audio stream of an SDP offer.
func parseOffer(body []byte) (*offer, error) {
	var sd sdp.SessionDescription
	if err := sd.Unmarshal(body); err != nil {
		return nil, err
	}
	for _, m := range sd.MediaDescriptions {
		if m.MediaName.Media != "audio" || m.MediaName.Port.Value == 0 {
			continue
		}
		o := &offer{codecs: map[string]uint8{}, te: -1, dir: "sendrecv"}
		for _, a := range append(sd.Attributes, m.Attributes...) {
			switch a.Key {
			case "sendrecv", "sendonly", "recvonly", "inactive":
				o.dir = a.Key
			}
		}
		conn := sd.ConnectionInformation
		if m.ConnectionInformation != nil {
			conn = m.ConnectionInformation
		}
		if conn == nil || conn.Address == nil {
			return nil, errors.New("no connection address in the SDP offer")
		}
		ip, err := netip.ParseAddr(conn.Address.Address)
		if err != nil {
			return nil, fmt.Errorf("connection address %q: %v", conn.Address.Address, err)
		}
		o.rtp = netip.AddrPortFrom(ip.Unmap(), uint16(m.MediaName.Port.Value))
		names := map[string]string{} // payload type -> encoding/clock
		for _, a := range m.Attributes {
			if a.Key != "rtpmap" {
				continue
			}
			pt, enc, ok := strings.Cut(a.Value, " ")
			if ok {
				names[pt] = strings.ToUpper(enc)
			}
		}
		for _, f := range m.MediaName.Formats {
			n, err := strconv.Atoi(f)
			if err != nil || n < 0 || n > 127 {
				continue
			}
			enc := names[f]
			switch {
			case enc == "" && n == 0, strings.HasPrefix(enc, "PCMU/8000"):
				o.codecs["PCMU"] = uint8(n)
			case enc == "" && n == 8, strings.HasPrefix(enc, "PCMA/8000"):
				o.codecs["PCMA"] = uint8(n)
			case strings.HasPrefix(enc, "TELEPHONE-EVENT/8000") && o.te < 0:
				o.te = n
			}
		}
		return o, nil
	}
	return nil, errNoAudio
}

// answer is the SDP answer: audio on ip:port in codec (payload type pt),
// with telephone-event when te >= 0.
func answer(ip netip.Addr, port int, codec string, pt uint8, te int, session uint64) []byte {
	ipv := "IP4"
	if ip.Is6() {
		ipv = "IP6"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "v=0\r\no=tonepay %d %d IN %s %s\r\ns=tonepay\r\nc=IN %s %s\r\nt=0 0\r\n", session, session, ipv, ip, ipv, ip)
	fmts := strconv.Itoa(int(pt))
	if te >= 0 {
		fmts += " " + strconv.Itoa(te)
	}
	fmt.Fprintf(&b, "m=audio %d RTP/AVP %s\r\na=rtpmap:%d %s/8000\r\n", port, fmts, pt, codec)
	if te >= 0 {
		fmt.Fprintf(&b, "a=rtpmap:%d telephone-event/8000\r\na=fmtp:%d 0-16\r\n", te, te)
	}
	b.WriteString("a=ptime:20\r\na=sendrecv\r\n")
	return []byte(b.String())
}
