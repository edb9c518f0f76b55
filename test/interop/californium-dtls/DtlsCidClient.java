// An LwM2M registration made with Eclipse Californium 3 (CoAP) over Scandium (DTLS 1.2, pre-shared
// key, Connection ID per RFC 9146), for otaflow's Connection ID interoperability test. It registers,
// then sends an Update each time a line `update` arrives on stdin, and prints what happens:
//   HANDSHAKE <write connection ID in hex, or "none">   each completed handshake
//   REGISTERED <location>  /  UPDATED <code>  /  FAILED <what>
// Usage: java -cp <dir>/classes:<dir>/lib/* DtlsCidClient <host:port> <endpoint> <psk identity> <psk key hex>
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.HexFormat;
import org.eclipse.californium.core.CoapClient;
import org.eclipse.californium.core.CoapResponse;
import org.eclipse.californium.core.coap.Request;
import org.eclipse.californium.core.config.CoapConfig;
import org.eclipse.californium.core.network.CoapEndpoint;
import org.eclipse.californium.elements.config.Configuration;
import org.eclipse.californium.scandium.DTLSConnector;
import org.eclipse.californium.scandium.config.DtlsConfig;
import org.eclipse.californium.scandium.config.DtlsConnectorConfig;
import org.eclipse.californium.scandium.dtls.ConnectionId;
import org.eclipse.californium.scandium.dtls.DTLSContext;
import org.eclipse.californium.scandium.dtls.Handshaker;
import org.eclipse.californium.scandium.dtls.SessionAdapter;
import org.eclipse.californium.scandium.dtls.pskstore.AdvancedSinglePskStore;

public class DtlsCidClient {
  public static void main(String[] args) throws Exception {
    if (args.length != 4) {
      throw new IllegalArgumentException("usage: DtlsCidClient <host:port> <endpoint> <psk identity> <psk key hex>");
    }
    String server = "coaps://" + args[0];
    String endpoint = args[1];
    CoapConfig.register();
    DtlsConfig.register();
    Configuration config = Configuration.createStandardWithoutFile();
    // Length 0: this client understands Connection IDs and uses the server's, without asking for one.
    config.set(DtlsConfig.DTLS_CONNECTION_ID_LENGTH, 0);
    config.set(DtlsConfig.DTLS_ROLE, DtlsConfig.DtlsRole.CLIENT_ONLY);
    DtlsConnectorConfig.Builder dtls = DtlsConnectorConfig.builder(config);
    dtls.setAdvancedPskStore(new AdvancedSinglePskStore(args[2], HexFormat.of().parseHex(args[3])));
    dtls.setSessionListener(
        new SessionAdapter() {
          @Override
          public void contextEstablished(Handshaker handshaker, DTLSContext context) {
            ConnectionId cid = context.getWriteConnectionId();
            System.out.println("HANDSHAKE " + (cid == null || cid.isEmpty() ? "none" : cid.getAsString()));
          }
        });
    CoapEndpoint coap =
        new CoapEndpoint.Builder().setConfiguration(config).setConnector(new DTLSConnector(dtls.build())).build();
    CoapClient client = new CoapClient();
    client.setEndpoint(coap);
    client.setTimeout(20_000L);

    Request register = Request.newPost();
    register.setURI(server + "/rd?ep=" + endpoint + "&lt=300&b=U&lwm2m=1.0");
    register.getOptions().setContentFormat(40);
    register.setPayload("</1/0>,</3/0>,</5/0>".getBytes(StandardCharsets.UTF_8));
    CoapResponse registered = client.advanced(register);
    if (registered == null || !registered.isSuccess()) {
      System.out.println("FAILED register " + (registered == null ? "timeout" : registered.getCode()));
      client.shutdown();
      return;
    }
    String location = registered.getOptions().getLocationPathString();
    System.out.println("REGISTERED " + location);

    BufferedReader commands = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
    for (String line; (line = commands.readLine()) != null; ) {
      if (!line.equals("update")) continue;
      Request update = Request.newPost();
      update.setURI(server + "/" + location);
      CoapResponse updated = client.advanced(update);
      System.out.println(updated == null ? "FAILED update timeout" : "UPDATED " + updated.getCode());
    }
    client.shutdown();
    coap.destroy();
  }
}
