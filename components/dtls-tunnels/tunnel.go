package main

import (
	"net"
	"sync"
)

// Requests of other local sockets remembered at once; more means they stopped waiting for replies.
const maxRemembered = 4096

// tunnel carries one simulated device's CoAP over one DTLS session.
type tunnel struct {
	conn        net.Conn
	local       *net.UDPConn
	handshakeMs float64

	mu          sync.Mutex
	device      *net.UDPAddr
	byToken     map[string]*net.UDPAddr
	byMessageID map[uint16]*net.UDPAddr
	closeOnce   sync.Once
}

func (t *tunnel) port() int { return t.local.LocalAddr().(*net.UDPAddr).Port }

func (t *tunnel) uplink() {
	buffer := make([]byte, 64*1024)
	for {
		n, from, err := t.local.ReadFromUDP(buffer)
		if err != nil {
			t.close()
			return
		}
		t.remember(buffer[:n], from)
		if _, err := t.conn.Write(buffer[:n]); err != nil {
			t.close()
			return
		}
	}
}

func (t *tunnel) downlink() {
	buffer := make([]byte, 64*1024)
	for {
		n, err := t.conn.Read(buffer)
		if err != nil {
			t.close()
			return
		}
		if to := t.recipient(buffer[:n]); to != nil {
			_, _ = t.local.WriteToUDP(buffer[:n], to)
		}
	}
}

// remember notes which local socket sent a request, unless it is the device's own.
func (t *tunnel) remember(message []byte, from *net.UDPAddr) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.device == nil {
		t.device = from
	}
	if sameAddress(from, t.device) || len(message) < 4 {
		return
	}
	if len(t.byToken) >= maxRemembered {
		t.byToken = map[string]*net.UDPAddr{}
		t.byMessageID = map[uint16]*net.UDPAddr{}
	}
	token, messageID := coapHeader(message)
	t.byToken[string(token)] = from
	t.byMessageID[messageID] = from
}

// recipient is the local socket a message from the server is for.
func (t *tunnel) recipient(message []byte) *net.UDPAddr {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(message) < 4 {
		return t.device
	}
	token, messageID := coapHeader(message)
	code := message[1]
	if to, ok := t.byMessageID[messageID]; ok && code == 0 {
		delete(t.byMessageID, messageID)
		return to
	}
	// Class 2 to 5: a response.
	if to, ok := t.byToken[string(token)]; ok && code >= 2<<5 {
		delete(t.byToken, string(token))
		delete(t.byMessageID, messageID)
		return to
	}
	return t.device
}

func coapHeader(message []byte) (token []byte, messageID uint16) {
	length := int(message[0] & 0x0f)
	messageID = uint16(message[2])<<8 | uint16(message[3])
	if 4+length <= len(message) {
		token = message[4 : 4+length]
	}
	return token, messageID
}

func sameAddress(a, b *net.UDPAddr) bool { return a.Port == b.Port && a.IP.Equal(b.IP) }

func (t *tunnel) close() {
	t.closeOnce.Do(func() {
		_ = t.conn.Close()
		_ = t.local.Close()
	})
}
