# The pfs WSGI filter. Rules (proxyfs-server.md 2.3 and 2.4), in the order they are applied:
#   1. A /proxyfs/ version segment is rewritten to /v1/ (the only way to ask for bypass).
#   2. No account, an unknown API version, or an object without a container: passed through.
#   3. A path that is not UTF-8 or holds NUL: 412.
#   4. PROXYFS method: the auth callback (swift.authorize) decides first (401/403 as Swift would);
#      then 405 unless account level, swift_owner and bypass_mode != off; then the body rules
#      (415, 411, 413, 400, method allow-list per mode) and the relay (502 if proxyfsd fails).
#   5. /proxyfs/ request with bypass_mode != off: the auth callback decides first; the owner
#      (environ['swift_owner'] set by the auth middleware, e.g. tempauth for .admin users) is
#      bypassed to Swift, except writes in read-only mode (405).
#   6. Everything else (mode off, or a non-owner): no bypass. This filter has no bimodal file view
#      (proxyfs-server.md 2.6), so such requests reach Swift as /v1/ under Swift's own
#      authorisation, which is what ProxyFS's filter does for an account that is not bimodal.
# Invariant: a non-owner never gets the bypass and never reaches proxyfsd through this filter.
import json
import socket
import uuid

from swift.common import swob
from swift.common.constraints import check_utf8, valid_api_version
from swift.common.utils import get_logger, split_path

try:
    from swift.common.registry import register_swift_info
except ImportError:  # Swift before 2.29
    from swift.common.utils import register_swift_info

from pfs_middleware.rpc import MAX_BODY, RpcRequestError, allowed_methods

BYPASS_MODES = ("off", "read-only", "read-write")


class ConfigError(ValueError):
    """A [filter:pfs] setting that cannot be used; the proxy refuses to start."""


class PfsMiddleware(object):
    def __init__(self, app, conf, logger=None):
        self.app = app
        self.logger = logger or get_logger(conf, log_route="pfs")
        mode = conf.get("bypass_mode", "off").strip().lower()
        if mode not in BYPASS_MODES:
            raise ConfigError("[filter:pfs] bypass_mode must be one of %s, not %r" % (", ".join(BYPASS_MODES), mode))
        self.bypass_mode = mode
        hosts = [h.strip() for h in conf.get("proxyfsd_host", "127.0.0.1").split(",") if h.strip()]
        if not hosts:
            raise ConfigError("[filter:pfs] proxyfsd_host is empty")
        try:
            port = int(conf.get("proxyfsd_port", "12345"))
        except ValueError:
            raise ConfigError("[filter:pfs] proxyfsd_port %r is not a number" % conf.get("proxyfsd_port"))
        if not 0 < port < 65536:
            raise ConfigError("[filter:pfs] proxyfsd_port %d is out of range" % port)
        # Resolve now: a name that does not resolve stops the proxy at start-up (as ProxyFS does).
        self.proxyfsd_addrs = []
        for h in hosts:
            try:
                self.proxyfsd_addrs.extend(socket.getaddrinfo(h, port, 0, socket.SOCK_STREAM))
            except socket.gaierror as e:
                raise ConfigError("[filter:pfs] proxyfsd_host %r does not resolve: %s" % (h, e))
        try:
            self.rpc_timeout = float(conf.get("rpc_timeout", "30"))
        except ValueError:
            raise ConfigError("[filter:pfs] rpc_timeout %r is not a number" % conf.get("rpc_timeout"))

    def __call__(self, env, start_response):
        path = env.get("PATH_INFO", "")
        proxyfs_path = path.startswith("/proxyfs/")
        if proxyfs_path:
            path = "/v1/" + path[len("/proxyfs/"):]
            env["PATH_INFO"] = path
        try:
            vrs, acc, con, obj = split_path(path, 1, 4, True)
        except ValueError:
            return self.app(env, start_response)
        if not acc or not valid_api_version(vrs) or (obj and not con):
            return self.app(env, start_response)
        if not check_utf8(swob.wsgi_to_str(path)):
            return swob.HTTPPreconditionFailed(body="Invalid UTF8 or contains NULL")(env, start_response)
        method = env.get("REQUEST_METHOD", "GET")
        if method == "PROXYFS":
            return self.proxy_rpc(swob.Request(env), acc, con, obj)(env, start_response)
        if proxyfs_path and self.bypass_mode != "off":
            req = swob.Request(env)
            denied = self._authorize(req)
            if denied is not None:
                return denied(env, start_response)
            if env.get("swift_owner"):
                if self.bypass_mode == "read-only" and method not in ("GET", "HEAD"):
                    return swob.HTTPMethodNotAllowed(request=req)(env, start_response)
                return self.app(env, start_response)
        return self.app(env, start_response)

    def _authorize(self, req):
        """The auth middleware's verdict (None = allowed); no callback means nobody is the owner."""
        cb = req.environ.get("swift.authorize")
        if cb is None or req.environ.get("swift.authorize_override"):
            return None
        return cb(req)

    def proxy_rpc(self, req, acc, con, obj):
        denied = self._authorize(req)
        if denied is not None:
            return denied
        if con or obj or self.bypass_mode == "off" or not req.environ.get("swift_owner"):
            return swob.HTTPMethodNotAllowed(request=req)
        ctype = req.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if ctype != "application/json":
            return _text(415, "PROXYFS needs Content-Type: application/json")
        chunked = "chunked" in req.headers.get("Transfer-Encoding", "").lower()
        if req.content_length is None and not chunked:
            return _text(411, "PROXYFS needs a Content-Length or a chunked body")
        if req.content_length is not None and req.content_length > MAX_BODY:
            return _text(413, "PROXYFS body is larger than %d bytes" % MAX_BODY)
        body = req.environ["wsgi.input"].read(MAX_BODY + 1)
        if len(body) > MAX_BODY:
            return _text(413, "PROXYFS body is larger than %d bytes" % MAX_BODY)
        try:
            request = rewrite_request(body, swob.wsgi_to_str(acc), allowed_methods(self.bypass_mode))
        except RpcRequestError as e:
            return _text(400, str(e))
        try:
            reply = self._call_proxyfsd(request)
        except (socket.error, socket.timeout, EOFError) as e:
            self.logger.error("PROXYFS %s: proxyfsd failed: %s" % (req.path, e))
            return _text(502, "proxyfsd: %s" % e)
        return swob.Response(status=200, body=reply, content_type="application/json")

    def _call_proxyfsd(self, request):
        """One fresh connection per call; send the JSON, read one line (Go ends each reply with \\n)."""
        last = None
        for family, socktype, proto, _canon, addr in self.proxyfsd_addrs:
            try:
                s = socket.socket(family, socktype, proto)
            except socket.error as e:
                last = e
                continue
            try:
                s.settimeout(self.rpc_timeout)
                try:
                    s.connect(addr)
                except socket.timeout:
                    raise
                except socket.error as e:
                    last = e  # try the next proxyfsd; a timeout fails at once (as ProxyFS)
                    continue
                s.sendall(request)
                buf = b""
                while b"\n" not in buf:
                    d = s.recv(65536)
                    if not d:
                        raise EOFError("proxyfsd closed the connection without a reply")
                    buf += d
                return buf[:buf.index(b"\n") + 1]
            finally:
                s.close()
        raise last or socket.error("no proxyfsd address")


def rewrite_request(body, account, allowed):
    """Validates a PROXYFS body and returns the bytes for proxyfsd (AccountName set, id supplied)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise RpcRequestError("body is not UTF-8")
    docs = [d for d in text.split("\n") if d.strip()]
    if len(docs) != 1:
        raise RpcRequestError("expected exactly one JSON-RPC request, got %d" % len(docs))
    try:
        # Python ints are unbounded, so 64-bit numbers survive the round trip.
        o = json.loads(docs[0])
    except ValueError as e:
        raise RpcRequestError("body is not JSON: %s" % e)
    if not isinstance(o, dict):
        raise RpcRequestError("JSON-RPC request must be an object")
    if o.get("jsonrpc") != "2.0":
        raise RpcRequestError('JSON-RPC request must have "jsonrpc": "2.0"')
    m = o.get("method")
    if not isinstance(m, str) or m not in allowed:
        raise RpcRequestError("method %s is not allowed" % json.dumps(m))
    p = o.get("params")
    if not isinstance(p, list) or len(p) != 1 or not isinstance(p[0], dict):
        raise RpcRequestError("params must be a list holding exactly one object")
    p[0]["AccountName"] = account
    if o.get("id") is None:
        o["id"] = str(uuid.uuid4())
    return json.dumps(o, separators=(",", ":")).encode("utf-8")


def _text(status, msg):
    """A plain-text error (swob has no HTTP... alias for some of these codes, e.g. 415)."""
    return swob.status_map[status](body=msg.encode("utf-8"), content_type="text/plain")


def filter_factory(global_conf, **local_conf):
    conf = global_conf.copy()
    conf.update(local_conf)
    mode = conf.get("bypass_mode", "off").strip().lower()
    register_swift_info("pfs", bypass_mode=mode)

    def pfs_filter(app):
        return PfsMiddleware(app, conf)

    return pfs_filter
