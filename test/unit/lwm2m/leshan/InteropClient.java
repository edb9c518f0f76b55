// A device application on top of Eclipse Leshan 1.5's client, for otaflow's interoperability tests:
// registers with the server given (lifetime 30 s, binding U, LwM2M 1.0), serves Device (3),
// Connectivity Monitoring (4), Firmware Update (5, pull over CoAP) and Software Management (9, pull
// over CoAP), and runs for the given milliseconds before deregistering. Prints `DOWNLOADED <bytes>
// <sha256>` once a package is fetched, `UPDATED <version>` once firmware is applied and `INSTALLED
// <version>` once software is. `--strict-accept true` makes it answer 5.00 to a GET without Accept,
// as some embedded clients do (Leshan itself always picks a format). `--print-encodings true` prints
// `ENCODED <path> <content-format> <base64>` for /3/0/3, /3/0 and /4/0 in every format Leshan's
// encoder offers, before it registers. With `--psk-identity` and `--psk-key` (hex) it talks to a
// coaps:// server over DTLS 1.2 with that pre-shared key (Leshan's own Security object and
// Californium's Scandium). `DOWNLOADED` lines end with the package URI's scheme.
// `--report-registration true` prints `REGISTERED`, `REGISTRATION FAILED <code> <message>` or
// `REGISTRATION TIMEOUT` for each attempt.
// Usage: java -cp <dir>/classes:<dir>/lib/* InteropClient <endpoint> <coap[s]://host:port> <runMillis>
//          [--firmware-version V] [--updated-version V] [--software-version V] [--rsrp dBm]
//          [--sinr dB] [--cell-id N] [--strict-accept true] [--print-encodings true]
//          [--psk-identity ID --psk-key HEX] [--report-registration true]
import java.security.MessageDigest;
import java.util.Arrays;
import java.util.Base64;
import java.util.Collections;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;
import org.eclipse.californium.core.CoapClient;
import org.eclipse.californium.core.CoapResponse;
import org.eclipse.californium.core.coap.CoAP.ResponseCode;
import org.eclipse.californium.core.coap.CoAP;
import org.eclipse.californium.core.coap.Request;
import org.eclipse.californium.core.coap.Response;
import org.eclipse.californium.core.network.Endpoint;
import org.eclipse.californium.core.network.Exchange;
import org.eclipse.californium.core.server.MessageDeliverer;
import org.eclipse.californium.core.network.config.NetworkConfig;
import org.eclipse.leshan.client.californium.LeshanClient;
import org.eclipse.leshan.client.californium.LeshanClientBuilder;
import org.eclipse.leshan.client.object.Device;
import org.eclipse.leshan.client.observer.LwM2mClientObserverAdapter;
import org.eclipse.leshan.client.object.Security;
import org.eclipse.leshan.client.object.Server;
import org.eclipse.leshan.client.resource.BaseInstanceEnabler;
import org.eclipse.leshan.client.resource.LwM2mInstanceEnablerFactory;
import org.eclipse.leshan.client.resource.ObjectsInitializer;
import org.eclipse.leshan.client.servers.ServerIdentity;
import org.eclipse.leshan.core.LwM2mId;
import org.eclipse.leshan.core.model.ObjectLoader;
import org.eclipse.leshan.core.model.ObjectModel;
import org.eclipse.leshan.core.model.ResourceModel;
import org.eclipse.leshan.core.model.ResourceModel.Operations;
import org.eclipse.leshan.core.model.ResourceModel.Type;
import org.eclipse.leshan.core.model.StaticModel;
import org.eclipse.leshan.core.node.LwM2mNode;
import org.eclipse.leshan.core.node.LwM2mPath;
import org.eclipse.leshan.core.node.LwM2mResource;
import org.eclipse.leshan.core.node.codec.DefaultLwM2mNodeEncoder;
import org.eclipse.leshan.core.request.BindingMode;
import org.eclipse.leshan.core.request.ContentFormat;
import org.eclipse.leshan.core.request.ReadRequest;
import org.eclipse.leshan.core.request.RegisterRequest;
import org.eclipse.leshan.core.response.ExecuteResponse;
import org.eclipse.leshan.core.response.ReadResponse;
import org.eclipse.leshan.core.response.WriteResponse;

public class InteropClient {
  /** Leshan's Device object has no Firmware Version; otaflow reads it first. */
  public static class FirmwareDevice extends Device {
    private volatile String firmwareVersion;

    public FirmwareDevice(String firmwareVersion) {
      super("Eclipse Leshan", "interop", "12345", "U");
      this.firmwareVersion = firmwareVersion;
    }

    void install(String version) {
      firmwareVersion = version;
      fireResourcesChange(3);
    }

    @Override
    public ReadResponse read(ServerIdentity identity, int resourceId) {
      if (resourceId == 3) return ReadResponse.success(3, firmwareVersion);
      return super.read(identity, resourceId);
    }
  }

  /** Leshan 1.5 ships no Connectivity Monitoring enabler: fixed radio values of an NB-IoT cell. */
  public static class Connectivity extends BaseInstanceEnabler {
    private static final long NB_IOT_BEARER = 7;
    private final long rsrp;
    private final long sinr;
    private final long cellId;

    public Connectivity(long rsrp, long sinr, long cellId) {
      this.rsrp = rsrp;
      this.sinr = sinr;
      this.cellId = cellId;
    }

    @Override
    public ReadResponse read(ServerIdentity identity, int resourceId) {
      switch (resourceId) {
        case 0: return ReadResponse.success(0, NB_IOT_BEARER);
        case 1: return ReadResponse.success(1, Map.of(0, NB_IOT_BEARER), Type.INTEGER);
        case 2: return ReadResponse.success(2, rsrp);
        case 4: return ReadResponse.success(4, Map.of(0, "127.0.0.1"), Type.STRING);
        case 8: return ReadResponse.success(8, cellId);
        case 11: return ReadResponse.success(11, sinr);
        default: return super.read(identity, resourceId);
      }
    }

    @Override
    public List<Integer> getAvailableResourceIds(ObjectModel model) {
      return Arrays.asList(0, 1, 2, 4, 8, 11);
    }
  }

  /**
   * An update object (5 or 9): its state and result resources, notified together when they change,
   * and the socket its downloads leave through (the registration's, as a device behind NAT must).
   */
  abstract static class UpdateObject extends BaseInstanceEnabler {
    private final int stateId;
    private final int resultId;
    protected Supplier<Endpoint> endpoint;
    protected int state;
    protected int result;

    UpdateObject(int stateId, int resultId) {
      this.stateId = stateId;
      this.resultId = resultId;
    }

    void useEndpoint(Supplier<Endpoint> endpoint) {
      this.endpoint = endpoint;
    }

    protected synchronized void set(int newState, int newResult) {
      boolean stateChanged = newState != state, resultChanged = newResult != result;
      state = newState;
      result = newResult;
      if (stateChanged && resultChanged) fireResourcesChange(stateId, resultId);
      else if (stateChanged) fireResourcesChange(stateId);
      else if (resultChanged) fireResourcesChange(resultId);
    }
  }

  /** Firmware Update (object 5), pull only: the package is fetched block-wise from the URI written. */
  public static class FirmwareUpdate extends UpdateObject {
    private static final int STATE = 3, RESULT = 5;
    private static final int IDLE = 0, DOWNLOADING = 1, DOWNLOADED = 2, UPDATING = 3;
    private static final int INITIAL = 0, SUCCESS = 1, CONNECTION_LOST = 4, INVALID_URI = 7;
    private static final long UPDATE_DURATION_MS = 1000;
    private final FirmwareDevice device;
    private final String updatedVersion;
    private String packageUri = "";

    public FirmwareUpdate(FirmwareDevice device, String updatedVersion) {
      super(STATE, RESULT);
      this.device = device;
      this.updatedVersion = updatedVersion;
    }

    @Override
    public synchronized ReadResponse read(ServerIdentity identity, int resourceId) {
      switch (resourceId) {
        case 1: return ReadResponse.success(1, packageUri);
        case STATE: return ReadResponse.success(STATE, state);
        case RESULT: return ReadResponse.success(RESULT, result);
        case 9: return ReadResponse.success(9, 0); // delivery method: pull only
        default: return super.read(identity, resourceId);
      }
    }

    @Override
    public synchronized WriteResponse write(ServerIdentity identity, int resourceId, LwM2mResource value) {
      if (resourceId != 1) return super.write(identity, resourceId, value);
      if (state == DOWNLOADING || state == UPDATING) return WriteResponse.badRequest("busy");
      packageUri = (String) value.getValue();
      if (packageUri.isEmpty()) {
        set(IDLE, INITIAL);
        return WriteResponse.success();
      }
      set(DOWNLOADING, INITIAL);
      String uri = packageUri;
      new Thread(() -> download(uri), "firmware-download").start();
      return WriteResponse.success();
    }

    @Override
    public synchronized ExecuteResponse execute(ServerIdentity identity, int resourceId, String params) {
      if (resourceId != 2) return super.execute(identity, resourceId, params);
      if (state != DOWNLOADED) return ExecuteResponse.methodNotAllowed();
      set(UPDATING, result);
      new Thread(this::update, "firmware-update").start();
      return ExecuteResponse.success();
    }

    @Override
    public List<Integer> getAvailableResourceIds(ObjectModel model) {
      return Arrays.asList(1, 2, 3, 5, 9);
    }

    private void download(String uri) {
      switch (PackageDownload.fetch(uri, endpoint.get())) {
        case OK: set(DOWNLOADED, INITIAL); break;
        case INVALID_URI: set(IDLE, INVALID_URI); break;
        case CONNECTION_LOST: set(IDLE, CONNECTION_LOST); break;
      }
    }

    private void update() {
      try {
        Thread.sleep(UPDATE_DURATION_MS);
      } catch (InterruptedException interrupted) {
        Thread.currentThread().interrupt();
        return;
      }
      device.install(updatedVersion);
      System.out.println("UPDATED " + updatedVersion);
      set(IDLE, SUCCESS);
    }
  }

  /** A pull over CoAP, block-wise, through the registration's socket (as a device behind NAT must). */
  static final class PackageDownload {
    enum Outcome { OK, INVALID_URI, CONNECTION_LOST }

    /** Block size the client asks for (SZX 5): the server must follow the client's choice. */
    private static final int BLOCK_SZX = 5;

    static Outcome fetch(String uri, Endpoint endpoint) {
      String scheme = uri.startsWith("coaps://") ? "coaps" : uri.startsWith("coap://") ? "coap" : null;
      if (scheme == null) return Outcome.INVALID_URI;
      CoapClient coap = new CoapClient(uri);
      coap.setEndpoint(endpoint);
      coap.setTimeout(60_000L);
      try {
        Request get = Request.newGet();
        get.setURI(uri);
        get.getOptions().setBlock2(BLOCK_SZX, false, 0);
        CoapResponse response = coap.advanced(get);
        if (response == null || response.getCode() != ResponseCode.CONTENT) {
          System.out.println("DOWNLOAD FAILED " + (response == null ? "timeout" : response.getCode()));
          return response == null ? Outcome.CONNECTION_LOST : Outcome.INVALID_URI;
        }
        byte[] bytes = response.getPayload();
        if (bytes.length == 0) {
          System.out.println("DOWNLOAD FAILED empty package");
          return Outcome.INVALID_URI;
        }
        String sha256 = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        System.out.println("DOWNLOADED " + bytes.length + " " + sha256 + " " + scheme);
        return Outcome.OK;
      } catch (Exception error) {
        System.out.println("DOWNLOAD FAILED " + error);
        return Outcome.CONNECTION_LOST;
      } finally {
        coap.shutdown();
      }
    }
  }

  /**
   * Software Management (object 9, LwM2M 1.0 registry), pull only: Package URI write → download
   * (Update State 1, then 2 and 3 with result 3), Install execute → Update State 4, result 2.
   */
  public static class SoftwareManagement extends UpdateObject {
    static final ObjectModel MODEL =
        new ObjectModel(
            9, "LWM2M Software Management", "", "1.0", true, false,
            new ResourceModel(0, "PkgName", Operations.R, false, true, Type.STRING, "", "", ""),
            new ResourceModel(1, "PkgVersion", Operations.R, false, true, Type.STRING, "", "", ""),
            new ResourceModel(3, "Package URI", Operations.W, false, false, Type.STRING, "", "", ""),
            new ResourceModel(4, "Install", Operations.E, false, true, Type.STRING, "", "", ""),
            new ResourceModel(7, "Update State", Operations.R, false, true, Type.INTEGER, "", "", ""),
            new ResourceModel(9, "Update Result", Operations.R, false, true, Type.INTEGER, "", "", ""));
    private static final int STATE = 7, RESULT = 9;
    private static final int INITIAL = 0, DOWNLOAD_STARTED = 1, DOWNLOADED = 2, DELIVERED = 3, INSTALLED = 4;
    private static final int RESULT_DOWNLOADING = 1, RESULT_INSTALLED = 2, RESULT_VERIFIED = 3;
    private static final int RESULT_CONNECTION_LOST = 52, RESULT_INVALID_URI = 56;

    private final String updatedVersion;
    private String version;
    private String packageUri = "";

    public SoftwareManagement(String version, String updatedVersion) {
      super(STATE, RESULT);
      this.version = version;
      this.updatedVersion = updatedVersion;
    }

    @Override
    public synchronized ReadResponse read(ServerIdentity identity, int resourceId) {
      switch (resourceId) {
        case 0: return ReadResponse.success(0, "interop-app");
        case 1: return ReadResponse.success(1, version);
        case STATE: return ReadResponse.success(STATE, state);
        case RESULT: return ReadResponse.success(RESULT, result);
        default: return super.read(identity, resourceId);
      }
    }

    @Override
    public synchronized WriteResponse write(ServerIdentity identity, int resourceId, LwM2mResource value) {
      if (resourceId != 3) return super.write(identity, resourceId, value);
      if (state == DOWNLOAD_STARTED) return WriteResponse.badRequest("busy");
      packageUri = (String) value.getValue();
      set(DOWNLOAD_STARTED, RESULT_DOWNLOADING);
      String uri = packageUri;
      new Thread(() -> download(uri), "software-download").start();
      return WriteResponse.success();
    }

    @Override
    public synchronized ExecuteResponse execute(ServerIdentity identity, int resourceId, String params) {
      if (resourceId != 4) return super.execute(identity, resourceId, params);
      if (state != DELIVERED) return ExecuteResponse.methodNotAllowed();
      new Thread(this::install, "software-install").start();
      return ExecuteResponse.success();
    }

    @Override
    public List<Integer> getAvailableResourceIds(ObjectModel model) {
      return Arrays.asList(0, 1, 3, 4, STATE, RESULT);
    }

    private void download(String uri) {
      switch (PackageDownload.fetch(uri, endpoint.get())) {
        case OK:
          set(DOWNLOADED, RESULT_VERIFIED);
          set(DELIVERED, RESULT_VERIFIED);
          break;
        case INVALID_URI: set(INITIAL, RESULT_INVALID_URI); break;
        case CONNECTION_LOST: set(INITIAL, RESULT_CONNECTION_LOST); break;
      }
    }

    private void install() {
      synchronized (this) {
        version = updatedVersion;
        fireResourcesChange(1);
      }
      System.out.println("INSTALLED " + updatedVersion);
      set(INSTALLED, RESULT_INSTALLED);
    }
  }

  /**
   * Answers 5.00 to a GET of an object path that carries no Accept option, as some embedded clients
   * do; everything else goes to Leshan as usual.
   */
  static MessageDeliverer requiringAccept(MessageDeliverer leshan) {
    return new MessageDeliverer() {
      @Override
      public void deliverRequest(Exchange exchange) {
        Request request = exchange.getRequest();
        List<String> path = request.getOptions().getUriPath();
        boolean objectPath = !path.isEmpty() && path.get(0).matches("\\d+");
        if (request.getCode() == CoAP.Code.GET && objectPath && !request.getOptions().hasAccept()) {
          exchange.sendResponse(new Response(ResponseCode.INTERNAL_SERVER_ERROR));
          return;
        }
        leshan.deliverRequest(exchange);
      }

      @Override
      public void deliverResponse(Exchange exchange, Response response) {
        leshan.deliverResponse(exchange, response);
      }
    };
  }

  /** Leshan's own encodings of a few paths in every content format its encoder offers. */
  static void printEncodings(LeshanClient client, StaticModel model) {
    DefaultLwM2mNodeEncoder encoder = new DefaultLwM2mNodeEncoder();
    ContentFormat[] formats = {ContentFormat.TEXT, ContentFormat.TLV, ContentFormat.JSON};
    for (String path : new String[] {"/3/0/3", "/3/0", "/4/0"}) {
      LwM2mPath target = new LwM2mPath(path);
      LwM2mNode node =
          client.getObjectTree().getObjectEnabler(target.getObjectId())
              .read(ServerIdentity.SYSTEM, new ReadRequest(path)).getContent();
      for (ContentFormat format : formats) {
        if (format == ContentFormat.TEXT && !target.isResource()) continue;
        byte[] encoded = encoder.encode(node, format, target, model);
        System.out.println("ENCODED " + path + " " + format.getCode() + " " + Base64.getEncoder().encodeToString(encoded));
      }
    }
  }

  /** Prints each registration attempt's outcome, as the server answered it. */
  static final class RegistrationReport extends LwM2mClientObserverAdapter {
    @Override
    public void onRegistrationSuccess(ServerIdentity server, RegisterRequest request, String registrationId) {
      System.out.println("REGISTERED");
    }

    @Override
    public void onRegistrationFailure(
        ServerIdentity server, RegisterRequest request, org.eclipse.leshan.core.ResponseCode code,
        String message, Exception cause) {
      System.out.println("REGISTRATION FAILED " + (code == null ? "none" : code.getName()) + " " + message);
    }

    @Override
    public void onRegistrationTimeout(ServerIdentity server, RegisterRequest request) {
      System.out.println("REGISTRATION TIMEOUT");
    }
  }

  /** Leshan asks for a factory for Create; these objects have one instance, built in main. */
  private static final LwM2mInstanceEnablerFactory SINGLE_INSTANCE =
      (model, id, existing) -> {
        throw new UnsupportedOperationException("object " + model.id + " has a single instance");
      };

  public static void main(String[] args) throws Exception {
    Map<String, String> options = options(Arrays.copyOfRange(args, 3, args.length));
    FirmwareDevice device = new FirmwareDevice(options.getOrDefault("--firmware-version", "1.2.3"));
    FirmwareUpdate firmware =
        new FirmwareUpdate(device, options.getOrDefault("--updated-version", "2.0.0"));
    Connectivity connectivity =
        new Connectivity(
            Long.parseLong(options.getOrDefault("--rsrp", "-85")),
            Long.parseLong(options.getOrDefault("--sinr", "12")),
            Long.parseLong(options.getOrDefault("--cell-id", "101")));

    SoftwareManagement software =
        new SoftwareManagement(
            options.getOrDefault("--software-version", "1.0.0"),
            options.getOrDefault("--updated-version", "2.0.0"));

    // The latest embedded models (Connectivity Monitoring 1.1 is the first with SignalSNR, /4/0/11),
    // and Software Management, which Leshan 1.5 does not embed.
    List<ObjectModel> models = new java.util.ArrayList<>(ObjectLoader.loadLastestDefault());
    models.add(SoftwareManagement.MODEL);
    StaticModel model = new StaticModel(models);
    ObjectsInitializer init = new ObjectsInitializer(model);
    String pskIdentity = options.get("--psk-identity");
    String pskKey = options.get("--psk-key");
    if ((pskIdentity == null) != (pskKey == null)) {
      throw new IllegalArgumentException("--psk-identity and --psk-key come together");
    }
    init.setInstancesForObject(
        LwM2mId.SECURITY,
        pskIdentity == null
            ? Security.noSec(args[1], 123)
            : Security.psk(
                args[1],
                123,
                pskIdentity.getBytes(java.nio.charset.StandardCharsets.UTF_8),
                HexFormat.of().parseHex(pskKey)));
    init.setInstancesForObject(LwM2mId.SERVER, new Server(123, 30, BindingMode.U, false));
    init.setInstancesForObject(LwM2mId.DEVICE, device);
    init.setInstancesForObject(LwM2mId.CONNECTIVITY_MONITORING, connectivity);
    init.setInstancesForObject(LwM2mId.FIRMWARE, firmware);
    init.setInstancesForObject(LwM2mId.SOFTWARE_MANAGEMENT, software);
    for (int id :
        new int[] {
          LwM2mId.DEVICE, LwM2mId.CONNECTIVITY_MONITORING, LwM2mId.FIRMWARE, LwM2mId.SOFTWARE_MANAGEMENT
        }) {
      init.setFactoryForObject(id, SINGLE_INSTANCE);
    }
    NetworkConfig coapConfig = LeshanClientBuilder.createDefaultNetworkConfig();
    // Californium reassembles Block2 transfers up to this size (default 8 KiB).
    coapConfig.setInt(NetworkConfig.Keys.MAX_RESOURCE_BODY_SIZE, 16 * 1024 * 1024);
    LeshanClientBuilder builder = new LeshanClientBuilder(args[0]);
    builder.setObjects(init.createAll());
    builder.setCoapConfig(coapConfig);
    LeshanClient client = builder.build();
    Supplier<Endpoint> registrationEndpoint =
        () -> client.coap().getEndpoint(client.getRegisteredServers().values().iterator().next());
    firmware.useEndpoint(registrationEndpoint);
    software.useEndpoint(registrationEndpoint);
    if (Boolean.parseBoolean(options.getOrDefault("--print-encodings", "false"))) {
      printEncodings(client, model);
    }
    if (Boolean.parseBoolean(options.getOrDefault("--strict-accept", "false"))) {
      client.coap().getServer().setMessageDeliverer(requiringAccept(client.coap().getServer().getMessageDeliverer()));
    }
    if (Boolean.parseBoolean(options.getOrDefault("--report-registration", "false"))) {
      client.addObserver(new RegistrationReport());
    }
    client.start();
    Thread.sleep(Long.parseLong(args[2]));
    client.destroy(true);
  }

  private static Map<String, String> options(String[] args) {
    if (args.length % 2 != 0) throw new IllegalArgumentException("options come in pairs: --name value");
    Map<String, String> options = new HashMap<>();
    List<String> known =
        List.of(
            "--firmware-version", "--updated-version", "--software-version", "--rsrp", "--sinr",
            "--cell-id", "--strict-accept", "--print-encodings", "--psk-identity", "--psk-key",
            "--report-registration");
    for (int i = 0; i < args.length; i += 2) {
      if (!known.contains(args[i])) {
        throw new IllegalArgumentException("unknown option " + args[i] + "; known: " + known);
      }
      options.put(args[i], args[i + 1]);
    }
    return Collections.unmodifiableMap(options);
  }
}
