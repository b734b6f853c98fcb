# The PROXYFS method's allow-lists (ProxyFS pfs_middleware rpc.py; proxyfs-server.md 2.4).
MAX_BODY = 1 << 20

_READ_ONLY = (
    "Access FetchExtentMapChunk GetAccount GetContainer GetObject GetStat GetXAttr Lease ListXAttr "
    "Lookup LookupPlus MountByAccountName Ping ReadSymlink ReaddirByLoc ReaddirPlusByLoc ReaddirPlus "
    "Readdir StatVFS Type Unmount"
).split()
_WRITE = (
    "Chmod Chown Create Delete Destroy Flock Flush Link Log MiddlewareMkdir MiddlewarePost Mkdir Move "
    "ProvisionObject PutLocation ReleaseLease RemoveXAttr Rename RenewLease Resize Rmdir SetTime SetXAttr "
    "SnapShotCreate SnapShotDelete SnapShotListByID SnapShotListByName SnapShotListByTime "
    "SnapShotLookupByName Symlink Unlink Wrote"
).split()

ALLOW_READ_ONLY = frozenset("Server.Rpc" + n for n in _READ_ONLY)
ALLOW_READ_WRITE = ALLOW_READ_ONLY | frozenset("Server.Rpc" + n for n in _WRITE)


class RpcRequestError(ValueError):
    """A PROXYFS body that is refused with 400; the message says why."""


def allowed_methods(bypass_mode):
    return ALLOW_READ_WRITE if bypass_mode == "read-write" else ALLOW_READ_ONLY
