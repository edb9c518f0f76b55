import { Router } from 'express';
import type { Database } from '../../db/database';
import { findDevices } from '../../db/devices';
import {
  addGroupMembers,
  deleteGroup,
  findGroup,
  insertGroup,
  listGroupDevices,
  listGroups,
  removeGroupMember,
} from '../../db/groups';
import { newId } from '../../db/ids';
import { conflict, notFound, unprocessable } from '../problem';
import {
  AddGroupDevicesRequest,
  CreateGroupRequest,
  GroupMemberParams,
  GroupParams,
  PageQuery,
} from '../schemas';
import { parseInput } from '../validate';

/** Named sets of devices, targets of upgrade tasks. */
export function groupsRouter(deps: { db: Database }): Router {
  const { db } = deps;
  const router = Router({ caseSensitive: true });

  const existingGroup = async (id: string) => {
    const group = await findGroup(db, id);
    if (!group) throw notFound(`group ${id} does not exist`);
    return group;
  };

  router.post('/', async (req, res) => {
    const request = parseInput(CreateGroupRequest, req.body, 'body');
    const group = await insertGroup(db, { id: newId('grp'), ...request });
    if (!group) {
      throw conflict(`a group named ${request.name} exists already`, [
        { path: 'name', message: 'already taken' },
      ]);
    }
    res.status(201).location(`/v1/groups/${group.id}`).json(group);
  });

  router.get('/', async (req, res) => {
    res.json(await listGroups(db, parseInput(PageQuery, req.query, 'query')));
  });

  router.get('/:id', async (req, res) => {
    const { id } = parseInput(GroupParams, req.params, 'params');
    res.json(await existingGroup(id));
  });

  router.delete('/:id', async (req, res) => {
    const { id } = parseInput(GroupParams, req.params, 'params');
    if (!(await deleteGroup(db, id))) throw notFound(`group ${id} does not exist`);
    res.status(204).end();
  });

  /** Adds devices (all known, or none added); devices already in the group are left as they are. */
  router.post('/:id/devices', async (req, res) => {
    const { id } = parseInput(GroupParams, req.params, 'params');
    const { deviceIds } = parseInput(AddGroupDevicesRequest, req.body, 'body');
    await existingGroup(id);
    const known = new Set((await findDevices(db, deviceIds)).map((device) => device.id));
    const unknown = deviceIds.flatMap((deviceId, index) =>
      known.has(deviceId)
        ? []
        : [{ path: `deviceIds.${index}`, message: `device ${deviceId} does not exist` }],
    );
    if (unknown.length > 0)
      throw unprocessable(`${unknown.length} device(s) do not exist; none was added`, unknown);
    await addGroupMembers(db, id, deviceIds);
    res.json(await existingGroup(id));
  });

  router.get('/:id/devices', async (req, res) => {
    const { id } = parseInput(GroupParams, req.params, 'params');
    const page = parseInput(PageQuery, req.query, 'query');
    await existingGroup(id);
    res.json(await listGroupDevices(db, id, page));
  });

  router.delete('/:id/devices/:deviceId', async (req, res) => {
    const { id, deviceId } = parseInput(GroupMemberParams, req.params, 'params');
    await existingGroup(id);
    if (!(await removeGroupMember(db, id, deviceId)))
      throw notFound(`device ${deviceId} is not in group ${id}`);
    res.status(204).end();
  });

  return router;
}
