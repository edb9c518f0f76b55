package main

import (
	"errors"
	"net"
	"os"
	"sync"
	"time"

	"github.com/pion/dtls/v4"
)

// A session's read buffers, one each way: a DTLS record carries at most 2^14 bytes of plaintext,
// and the gateway's largest datagram (a 1,024-byte block with its options) fits many times. Kept
// small, since every session holds two: 64 KiB each made 1,000 sessions cost the terminator 340 MB.
const maxDatagram = 16 * 1024

// session carries one device's datagrams between its DTLS connection and its loopback socket.
type session struct {
	conn     *dtls.Conn
	socket   *net.UDPConn
	identity string
	port     int

	once  sync.Once
	mu    sync.Mutex
	cause string
}

// carryUplink forwards what the device sends to the gateway until the session ends.
func (s *session) carryUplink(gateway *net.UDPAddr, idle time.Duration) {
	buffer := make([]byte, maxDatagram)
	for {
		_ = s.conn.SetReadDeadline(time.Now().Add(idle))
		n, err := s.conn.Read(buffer)
		if err != nil {
			switch {
			case errors.Is(err, os.ErrDeadlineExceeded):
				s.end("idle for " + idle.String())
			case errors.Is(err, net.ErrClosed):
				s.end("closed")
			default:
				s.end(err.Error())
			}
			return
		}
		if _, err := s.socket.WriteToUDP(buffer[:n], gateway); err != nil {
			s.end("cannot reach the gateway: " + err.Error())
			return
		}
	}
}

// deliverDownlink forwards what the gateway sends from this session's socket to the device.
func (s *session) deliverDownlink(gateway *net.UDPAddr) {
	buffer := make([]byte, maxDatagram)
	for {
		n, from, err := s.socket.ReadFromUDP(buffer)
		if err != nil {
			s.end("closed")
			return
		}
		if !from.IP.Equal(gateway.IP) || from.Port != gateway.Port {
			continue
		}
		if _, err := s.conn.Write(buffer[:n]); err != nil {
			s.end("cannot write to the device: " + err.Error())
			return
		}
	}
}

// end closes both sides once; the first cause given is the one reported.
func (s *session) end(cause string) {
	s.once.Do(func() {
		s.mu.Lock()
		s.cause = cause
		s.mu.Unlock()
		_ = s.conn.Close()
		_ = s.socket.Close()
	})
}

func (s *session) close() { s.end("dropped") }

func (s *session) reason() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cause
}
