package main

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"encoding/json"
	"io"
	"log"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/pion/dtls/v4"
)

// How long the supervisor may take to answer a key lookup or acknowledge a session.
const answerTimeout = 5 * time.Second

type event struct {
	Event     string `json:"event"`
	Address   string `json:"address,omitempty"`
	RequestID uint64 `json:"requestId,omitempty"`
	Identity  string `json:"identity,omitempty"`
	Port      int    `json:"port,omitempty"`
	Peer      string `json:"peer,omitempty"`
	Reason    string `json:"reason,omitempty"`
}

type command struct {
	Command   string  `json:"command"`
	RequestID uint64  `json:"requestId"`
	Key       *string `json:"key"`
	Port      int     `json:"port"`
	Identity  string  `json:"identity"`
}

// supervisor is the conversation with otaflow over stdin and stdout, and the table of open sessions.
type supervisor struct {
	mu         sync.Mutex
	out        *json.Encoder
	nextID     uint64
	keys       map[uint64]chan []byte
	acks       map[int]chan struct{}
	byPort     map[int]*session
	byIdentity map[string]*session
	done       chan struct{}
}

func newSupervisor(out io.Writer) *supervisor {
	return &supervisor{
		out:        json.NewEncoder(out),
		keys:       map[uint64]chan []byte{},
		acks:       map[int]chan struct{}{},
		byPort:     map[int]*session{},
		byIdentity: map[string]*session{},
		done:       make(chan struct{}),
	}
}

func (s *supervisor) emit(e event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.out.Encode(e); err != nil {
		log.Printf("cannot write to the supervisor: %v", err)
	}
}

func (s *supervisor) readCommands(in io.Reader) {
	defer close(s.done)
	scanner := bufio.NewScanner(in)
	for scanner.Scan() {
		if len(bytes.TrimSpace(scanner.Bytes())) == 0 {
			continue
		}
		var c command
		if err := json.Unmarshal(scanner.Bytes(), &c); err != nil {
			log.Printf("ignored a command that is not JSON: %v", err)
			continue
		}
		switch c.Command {
		case "psk":
			s.answerKey(c)
		case "session-ready":
			s.mu.Lock()
			if ack, ok := s.acks[c.Port]; ok {
				close(ack)
				delete(s.acks, c.Port)
			}
			s.mu.Unlock()
		case "close-identity":
			s.mu.Lock()
			open := s.byIdentity[c.Identity]
			s.mu.Unlock()
			if open != nil {
				open.end("closed by otaflow")
			}
		default:
			log.Printf("ignored unknown command %q", c.Command)
		}
	}
}

func (s *supervisor) answerKey(c command) {
	var key []byte
	if c.Key != nil {
		decoded, err := hex.DecodeString(*c.Key)
		if err != nil || len(decoded) == 0 {
			log.Printf("ignored the key of request %d: not hex", c.RequestID)
		} else {
			key = decoded
		}
	}
	s.mu.Lock()
	answer, ok := s.keys[c.RequestID]
	delete(s.keys, c.RequestID)
	s.mu.Unlock()
	if ok {
		answer <- key
	}
}

// lookupPSK asks otaflow for the key of the identity a device offers; none ends the handshake.
func (s *supervisor) lookupPSK(identities [][]byte) (*dtls.PSK, error) {
	if len(identities) == 0 || !utf8.Valid(identities[0]) {
		return nil, nil
	}
	identity := identities[0]
	answer := make(chan []byte, 1)
	s.mu.Lock()
	s.nextID++
	id := s.nextID
	s.keys[id] = answer
	s.mu.Unlock()
	s.emit(event{Event: "psk-request", RequestID: id, Identity: string(identity)})
	select {
	case key := <-answer:
		if key == nil {
			return nil, nil
		}
		return &dtls.PSK{Identity: identity, Key: key}, nil
	case <-time.After(answerTimeout):
		s.mu.Lock()
		delete(s.keys, id)
		s.mu.Unlock()
		log.Printf("no key for %q: otaflow did not answer within %s", identity, answerTimeout)
		return nil, nil
	}
}

// open announces a session and waits for otaflow to know it. A newer session of the same identity
// replaces the older one: the device started over (rebooted, or lost its session state).
func (s *supervisor) open(opened *session, peer string) bool {
	ack := make(chan struct{})
	s.mu.Lock()
	previous := s.byIdentity[opened.identity]
	s.byIdentity[opened.identity] = opened
	s.byPort[opened.port] = opened
	s.acks[opened.port] = ack
	s.mu.Unlock()
	if previous != nil {
		previous.end("replaced by a new session of the same identity")
	}
	s.emit(event{Event: "session", Port: opened.port, Identity: opened.identity, Peer: peer})
	select {
	case <-ack:
		return true
	case <-time.After(answerTimeout):
		log.Printf("session of %q from %s dropped: otaflow did not acknowledge it within %s", opened.identity, peer, answerTimeout)
		s.closed(opened)
		return false
	}
}

func (s *supervisor) closed(ended *session) {
	s.mu.Lock()
	delete(s.byPort, ended.port)
	delete(s.acks, ended.port)
	if s.byIdentity[ended.identity] == ended {
		delete(s.byIdentity, ended.identity)
	}
	s.mu.Unlock()
	s.emit(event{Event: "session-closed", Port: ended.port, Identity: ended.identity, Reason: ended.reason()})
}

func (s *supervisor) closeAll(reason string) {
	s.mu.Lock()
	open := make([]*session, 0, len(s.byPort))
	for _, each := range s.byPort {
		open = append(open, each)
	}
	s.mu.Unlock()
	for _, each := range open {
		each.end(reason)
	}
}
