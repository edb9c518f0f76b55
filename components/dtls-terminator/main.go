// dtls-terminator ends LwM2M's DTLS 1.2 sessions (pre-shared keys, Connection ID) for otaflow's
// LwM2M gateway, which has no DTLS of its own: Node has no maintained DTLS server. Each session's
// plaintext CoAP datagrams go to the gateway's UDP socket from a loopback socket of its own, so the
// gateway sees every session as one peer address; before the first datagram, the session's port
// and PSK identity are announced on stdout, and the gateway acknowledges on stdin.
//
// Its supervisor (src/lwm2m/dtls/dtls-terminator.ts) speaks JSON lines:
//
//	out: {"event":"listening","address":"0.0.0.0:5684"}
//	out: {"event":"psk-request","requestId":1,"identity":"urn:imei:…"}
//	in:  {"command":"psk","requestId":1,"key":"<hex>"}          (no "key": unknown identity)
//	out: {"event":"session","port":40123,"identity":"…","peer":"203.0.113.5:5684"}
//	in:  {"command":"session-ready","port":40123}
//	out: {"event":"session-closed","port":40123,"identity":"…","reason":"…"}
//	out: {"event":"handshake-failed","peer":"…","reason":"…"}
//	in:  {"command":"close-identity","identity":"…"}            (key changed, device disabled)
//
// Logs go to stderr.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"time"

	"github.com/pion/dtls/v4"
	"github.com/pion/dtls/v4/pkg/crypto/ciphersuite"
	"github.com/pion/dtls/v4/pkg/protocol"
)

func main() {
	listen := flag.String("listen", "0.0.0.0:5684", "UDP address devices reach over DTLS")
	upstream := flag.String("upstream", "", "UDP address of the LwM2M gateway's CoAP socket (required)")
	cidBytes := flag.Int("cid-bytes", 8, "length of the Connection ID (RFC 9146) otaflow asks devices to send; 0 turns it off")
	idle := flag.Duration("idle", 48*time.Hour, "a session from which nothing arrives for this long is closed")
	handshakeTimeout := flag.Duration("handshake-timeout", 30*time.Second, "how long a handshake may take")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("dtls-terminator: ")

	if *upstream == "" {
		fail("--upstream is required: the LwM2M gateway's CoAP address, e.g. 127.0.0.1:5683")
	}
	gateway, err := net.ResolveUDPAddr("udp", *upstream)
	if err != nil {
		fail(fmt.Sprintf("--upstream %q is not a UDP address: %v", *upstream, err))
	}
	listenAddr, err := net.ResolveUDPAddr("udp", *listen)
	if err != nil {
		fail(fmt.Sprintf("--listen %q is not a UDP address: %v", *listen, err))
	}
	if *cidBytes < 0 || *cidBytes > 255 {
		fail(fmt.Sprintf("--cid-bytes %d is out of range 0..255", *cidBytes))
	}

	supervisor := newSupervisor(os.Stdout)
	go supervisor.readCommands(os.Stdin)

	options := []dtls.ServerOption{
		dtls.WithPSK(nil, supervisor.lookupPSK),
		dtls.WithMinVersion(protocol.Version1_2),
		dtls.WithMaxVersion(protocol.Version1_2),
		dtls.WithReceiveBufferSize(maxDatagram),
		// LwM2M 1.x mandates TLS_PSK_WITH_AES_128_CCM_8; the others are what common clients offer.
		dtls.WithCipherSuites(
			ciphersuite.TLS_PSK_WITH_AES_128_CCM_8,
			ciphersuite.TLS_PSK_WITH_AES_128_GCM_SHA256,
			ciphersuite.TLS_PSK_WITH_AES_128_CCM,
			ciphersuite.TLS_PSK_WITH_AES_128_CBC_SHA256,
		),
	}
	if *cidBytes > 0 {
		// A device behind carrier NAT comes back from sleep on a new address: records carrying its
		// Connection ID move the session there, and only a newer record than any seen moves it.
		options = append(options, dtls.WithConnectionID(dtls.RandomCIDGenerator(*cidBytes), dtls.CIDPathMigrationUnsafe))
	}
	listener, err := dtls.ListenAddr("udp", listenAddr, options...)
	if err != nil {
		fail(fmt.Sprintf("cannot listen on %s: %v", *listen, err))
	}
	supervisor.emit(event{Event: "listening", Address: listener.Addr().String()})

	go func() {
		// The supervisor closing stdin is the signal to stop.
		<-supervisor.done
		_ = listener.Close()
	}()

	for {
		conn, err := listener.Accept()
		if err != nil {
			select {
			case <-supervisor.done:
				supervisor.closeAll("terminator stopping")
				return
			default:
			}
			log.Printf("accept: %v", err)
			continue
		}
		go serveSession(supervisor, conn.(*dtls.Conn), gateway, *handshakeTimeout, *idle)
	}
}

func serveSession(supervisor *supervisor, conn *dtls.Conn, gateway *net.UDPAddr, handshakeTimeout, idle time.Duration) {
	peer := conn.RemoteAddr().String()
	ctx, cancel := context.WithTimeout(context.Background(), handshakeTimeout)
	err := conn.HandshakeContext(ctx)
	cancel()
	if err != nil {
		supervisor.emit(event{Event: "handshake-failed", Peer: peer, Reason: err.Error()})
		_ = conn.Close()
		return
	}
	state, _ := conn.ConnectionState()
	identity := string(state.IdentityHint)

	local := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)}
	if gateway.IP.To4() == nil {
		local = &net.UDPAddr{IP: net.IPv6loopback}
	}
	socket, err := net.ListenUDP("udp", local)
	if err != nil {
		log.Printf("session of %q from %s: no loopback socket: %v", identity, peer, err)
		_ = conn.Close()
		return
	}
	s := &session{conn: conn, socket: socket, identity: identity, port: socket.LocalAddr().(*net.UDPAddr).Port}
	if !supervisor.open(s, peer) {
		s.close()
		return
	}
	go s.deliverDownlink(gateway)
	s.carryUplink(gateway, idle)
	supervisor.closed(s)
}

func fail(message string) {
	log.Print(message)
	os.Exit(2)
}
