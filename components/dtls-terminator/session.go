package main

import (
	"errors"
	"net"
	"os"
	"sync"
	"time"

	"github.com/pion/dtls/v4"
)

// The largest datagram a session carries, each way, and the size of its read buffers (pion's one
// and ours, two per session). LwM2M over UDP keeps a message within the path MTU (RFC 7252 §4.6:
// larger payloads go block-wise), and the gateway's largest datagram is a 1,024-byte block with its
// options. Every session holds three such buffers: at 16 KiB (64 KiB before) 1,000 sessions cost
// the terminator tens of megabytes for buffers that never held more than 1.2 KiB (BENCHMARKS.md).
const maxDatagram = 4 * 1024

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
