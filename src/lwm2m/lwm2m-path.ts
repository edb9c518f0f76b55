/**
 * LwM2M paths: `/object[/instance[/resource[/resource-instance]]]`, each level an integer 0–65535.
 */
export interface Lwm2mPath {
  objectId: number;
  instanceId?: number;
  resourceId?: number;
  resourceInstanceId?: number;
}

export class InvalidLwm2mPathError extends Error {
  override name = 'InvalidLwm2mPathError';
}

const MAX_ID = 65535;

export function parseLwm2mPath(path: string): Lwm2mPath {
  const segments = path.replace(/^\//, '').replace(/\/$/, '').split('/');
  if (segments.length < 1 || segments.length > 4 || segments[0] === '') {
    throw new InvalidLwm2mPathError(
      `'${path}' is not an LwM2M path (/object[/instance[/resource[/instance]]])`,
    );
  }
  const ids = segments.map((segment) => {
    if (!/^\d{1,5}$/.test(segment) || Number(segment) > MAX_ID) {
      throw new InvalidLwm2mPathError(`'${path}' has '${segment}' where an id 0–${MAX_ID} belongs`);
    }
    return Number(segment);
  });
  const [objectId = 0, instanceId, resourceId, resourceInstanceId] = ids;
  return { objectId, instanceId, resourceId, resourceInstanceId };
}

export function formatLwm2mPath(path: Lwm2mPath): string {
  const ids = [path.objectId, path.instanceId, path.resourceId, path.resourceInstanceId];
  const defined: number[] = [];
  for (const id of ids) {
    if (id === undefined) break;
    defined.push(id);
  }
  return `/${defined.join('/')}`;
}

/** The path's segments, as CoAP Uri-Path options carry them. */
export function lwm2mPathSegments(path: string): string[] {
  return formatLwm2mPath(parseLwm2mPath(path)).slice(1).split('/');
}
