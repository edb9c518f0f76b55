// dtls-tunnels is the DTLS side of otaflow's simulated NB-IoT devices (the demo and the benchmark):
// the simulator speaks plain CoAP, and each device's tunnel carries it over one DTLS 1.2 session
// with the device's pre-shared key (pion/dtls as a client, using the Connection ID the server asks for). It is not
// part of the server: the server's DTLS is components/dtls-terminator.
//
// JSON lines on stdin and stdout:
//
//	in:  {"command":"open","id":"meter-1","identity":"meter-1","key":"<hex>"}
//	out: {"event":"open","id":"meter-1","port":40100,"handshakeMs":12.5}   (the device sends to 127.0.0.1:port)
//	out: {"event":"failed","id":"meter-1","reason":"…"}
//
// Closing stdin closes every tunnel.
//
// The first local socket that sends into a tunnel is the device; a reply to a request another local
// socket sent (the device's block downloads use sockets of their own) goes back to that socket,
// matched by its CoAP token, or its message ID for an empty acknowledgement.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"sync"
	"time"

	"github.com/pion/dtls/v4"
	"github.com/pion/dtls/v4/pkg/crypto/ciphersuite"
	"github.com/pion/dtls/v4/pkg/protocol"
)

type command struct {
	Command  string `json:"command"`
	ID       string `json:"id"`
	Identity string `json:"identity"`
	Key      string `json:"key"`
}

type event struct {
	Event       string  `json:"event"`
	ID          string  `json:"id"`
	Port        int     `json:"port,omitempty"`
	HandshakeMs float64 `json:"handshakeMs,omitempty"`
	Reason      string  `json:"reason,omitempty"`
}

type output struct {
	mu  sync.Mutex
	out *json.Encoder
}

func (o *output) emit(e event) {
	o.mu.Lock()
	defer o.mu.Unlock()
	_ = o.out.Encode(e)
}

func main() {
	server := flag.String("server", "", "the DTLS server, host:port (required)")
	handshakeTimeout := flag.Duration("handshake-timeout", 30*time.Second, "how long a handshake may take")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("dtls-tunnels: ")
	address, err := net.ResolveUDPAddr("udp", *server)
	if *server == "" || err != nil {
		log.Printf("--server must be a UDP host:port, got %q", *server)
		os.Exit(2)
	}

	out := &output{out: json.NewEncoder(os.Stdout)}
	var mu sync.Mutex
	tunnels := map[string]*tunnel{}
	scanner := bufio.NewScanner(os.Stdin)
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
		case "open":
			go func(c command) {
				opened, err := open(address, c.Identity, c.Key, *handshakeTimeout)
				if err != nil {
					out.emit(event{Event: "failed", ID: c.ID, Reason: err.Error()})
					return
				}
				mu.Lock()
				tunnels[c.ID] = opened
				mu.Unlock()
				out.emit(event{Event: "open", ID: c.ID, Port: opened.port(), HandshakeMs: opened.handshakeMs})
			}(c)
		default:
			log.Printf("ignored unknown command %q", c.Command)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for _, each := range tunnels {
		each.close()
	}
}

func open(server *net.UDPAddr, identity, keyHex string, timeout time.Duration) (*tunnel, error) {
	key, err := hex.DecodeString(keyHex)
	if err != nil || len(key) == 0 {
		return nil, fmt.Errorf("the key is not hex")
	}
	socket, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4zero})
	if err != nil {
		return nil, err
	}
	started := time.Now()
	conn, err := dtls.Client(socket, server,
		dtls.WithPSK(func() ([]dtls.PSK, error) {
			return []dtls.PSK{{Identity: []byte(identity), Key: key}}, nil
		}, nil),
		dtls.WithMinVersion(protocol.Version1_2),
		dtls.WithMaxVersion(protocol.Version1_2),
		dtls.WithCipherSuites(ciphersuite.TLS_PSK_WITH_AES_128_CCM_8),
		dtls.WithConnectionID(dtls.OnlySendCIDGenerator(), dtls.CIDPathMigrationReject),
	)
	if err != nil {
		_ = socket.Close()
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := conn.HandshakeContext(ctx); err != nil {
		_ = conn.Close()
		return nil, err
	}
	local, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		_ = conn.Close()
		return nil, err
	}
	t := &tunnel{
		conn:        conn,
		local:       local,
		handshakeMs: float64(time.Since(started).Microseconds()) / 1000,
		byToken:     map[string]*net.UDPAddr{},
		byMessageID: map[uint16]*net.UDPAddr{},
	}
	go t.uplink()
	go t.downlink()
	return t, nil
}
