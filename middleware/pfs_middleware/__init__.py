# pfs_middleware for proxyfs: a WSGI filter for a real OpenStack Swift proxy.
#
# It gives pfsagentd what ProxyFS's own pfs_middleware gives it (proxyfs-server.md 2.1, 2.3, 2.4):
#   * "bypass": /proxyfs/<acct>/... requests of the account owner go to Swift as /v1/<acct>/...
#     (GET/HEAD in bypass_mode = read-only, every method in read-write; other writes 405 in read-only);
#   * the PROXYFS method at account level, for the account owner only, relays one JSON-RPC request
#     to proxyfsd's JSON-RPC TCP port and returns its reply.
# Configuration ([filter:pfs] in proxy-server.conf):
#   use = egg:... is not available (no egg); use `paste.filter_factory = pfs_middleware:filter_factory`
#   bypass_mode    off | read-only | read-write (default off)
#   proxyfsd_host  default 127.0.0.1 (a comma list is accepted; the first that answers is used)
#   proxyfsd_port  default 12345
#   rpc_timeout    seconds, default 30
from pfs_middleware.middleware import PfsMiddleware, filter_factory

__all__ = ["PfsMiddleware", "filter_factory"]
