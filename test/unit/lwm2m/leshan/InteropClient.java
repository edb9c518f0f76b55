// A minimal Eclipse Leshan 1.5 client for otaflow's interoperability test: registers with the
// server given, lifetime 30 s, binding U, and runs for the given milliseconds before deregistering.
// Usage: java -cp <dir>:<dir>/lib/* InteropClient <endpoint> <coap://host:port> <runMillis>
import org.eclipse.leshan.client.californium.LeshanClient;
import org.eclipse.leshan.client.californium.LeshanClientBuilder;
import org.eclipse.leshan.client.object.Device;
import org.eclipse.leshan.client.object.Security;
import org.eclipse.leshan.client.object.Server;
import org.eclipse.leshan.client.resource.ObjectsInitializer;
import org.eclipse.leshan.core.LwM2mId;
import org.eclipse.leshan.core.model.ObjectLoader;
import org.eclipse.leshan.core.model.StaticModel;
import org.eclipse.leshan.core.request.BindingMode;

public class InteropClient {
  /** Leshan's Device object has no Firmware Version; otaflow reads it first. */
  public static class FirmwareDevice extends Device {
    public FirmwareDevice() { super("Eclipse Leshan", "interop", "12345", "U"); }
    @Override
    public org.eclipse.leshan.core.response.ReadResponse read(org.eclipse.leshan.client.servers.ServerIdentity identity, int resourceId) {
      if (resourceId == 3) return org.eclipse.leshan.core.response.ReadResponse.success(3, "1.2.3");
      return super.read(identity, resourceId);
    }
  }

  public static void main(String[] args) throws Exception {
    ObjectsInitializer init = new ObjectsInitializer(new StaticModel(ObjectLoader.loadDefault()));
    init.setInstancesForObject(LwM2mId.SECURITY, Security.noSec(args[1], 123));
    init.setInstancesForObject(LwM2mId.SERVER, new Server(123, 30, BindingMode.U, false));
    init.setInstancesForObject(LwM2mId.DEVICE, new FirmwareDevice());
    LeshanClientBuilder builder = new LeshanClientBuilder(args[0]);
    builder.setObjects(init.createAll());
    LeshanClient client = builder.build();
    client.start();
    Thread.sleep(Long.parseLong(args[2]));
    client.destroy(true);
  }
}
