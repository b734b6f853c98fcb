// Error strings exactly as 1.17.1 proxyfsd formats them (protocol doc §3.3, §5.5, §9.2).
// Most methods: "errno: N" (the agent Sscanf's the number). RpcLease and RpcUnmount: plain text,
// which a 1.17.1 agent treats as fatal for RpcLease, so a server sends these only where 1.17.1 did.

import { Errno } from "../base/errno.js";
export { errnoErrstr, parseErrstrErrno, UNKNOWN_METHOD_ERRSTR, UNKNOWN_CLIENT_ERRSTR } from "../rpc/index.js";

/** Ordinary RPC naming a MountID the server does not know: EINVAL (captured lc_bad_mountid_getstat). */
export const UNKNOWN_MOUNT_ERRSTR = `errno: ${Errno.EINVAL}`;

/** RpcLease with a MountID the server does not know. */
export function leaseUnknownMountErrstr(mountId: string): string {
  return `MountID ${mountId} not found in jrpcfs globals.mountMapByMountIDAsString`;
}

/** RpcLease with a type number outside 0..4. */
export function leaseTypeNotSupportedErrstr(leaseRequestType: number): string {
  return `LeaseRequestType ${leaseRequestType} not supported`;
}

/** Promote/Demote/Release on an inode that never had a lease object. */
export function leaseNonExistentErrstr(leaseRequestType: number): string {
  return `LeaseRequestType ${leaseRequestType} not allowed for non-existent Lease [case 1]`;
}

/** Server.RpcUnmount (JSON-RPC) of a MountID that is not mounted. */
export function unmountNotFoundError(mountId: string): string {
  return `RpcUnmount(in.MountID==${JSON.stringify(mountId)},) cannot be found in globals.volumeMap`;
}
